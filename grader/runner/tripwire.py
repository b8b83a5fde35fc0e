"""Notice student code reaching into the grader, and tell the supervisor at once.

Installed in a worker after the trusted libraries and before any student import. Two parts:
- an audit hook (PEP 578; it cannot be removed once added) that fires on the ways into
  another frame's or object's insides: `gc`'s object walks, frames of the grader's code
  (`sys._getframe`, `tb_frame`, `f_code`), tracing, `ctypes`, signals to the supervisor, and
  attributes set on classes or functions of the grader, Lightning, torch or torchmetrics;
- a snapshot of the grader's modules and of the methods of the Lightning classes it uses,
  compared before each message, for replaced functions (setting a module's or a class's
  attribute raises no audit event).
Only code of the submission is suspected: the event is charged to the nearest frame outside
the standard library, and Lightning's or torch's own introspection is theirs. Since that
decision reads a frame's file name, which `compile` lets anyone choose, the hook also reports
student code that makes code under the file name of the grader or a library (`compile`, `exec`,
`code.replace`, `types.FunctionType`, `marshal.loads`), unless the import system is loading that
file with its standard loaders; and student code that opens or lists the worker's own file
descriptors (`/proc/self/fd`), where its pipe to the supervisor is.
"""

from __future__ import annotations

import os
import re
import site
import sys
import sysconfig
import threading
from collections.abc import Callable
from importlib.machinery import SourceFileLoader, SourcelessFileLoader
from pathlib import Path
from types import CodeType, FrameType, FunctionType, ModuleType
from typing import Any

import grader

GRADER_FOLDER = str(Path(grader.__file__).resolve().parent)
# The folder of the standard library's own modules (in a venv, `platstdlib` is the venv's).
STDLIB_FOLDER = str(Path(os.__file__).resolve().parent)
PROTECTED_PACKAGES = frozenset(
    {"grader", "torch", "lightning", "pytorch_lightning", "lightning_fabric", "torchmetrics"}
    # The import system, whose standard loaders vouch for the code they load.
    | {"importlib", "_frozen_importlib", "_frozen_importlib_external"}
)
OBJECT_WALKS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
TRACING = frozenset({"sys._current_frames", "sys.settrace", "sys.setprofile"})
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_code"})
MEMORY_ACCESS = frozenset(
    {
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.cdata",
        "ctypes.addressof",
        "ctypes.string_at",
        "ctypes.call_function",
    }
)
SIGNALS = frozenset({"os.kill", "os.killpg"})
CODE_MAKING = frozenset({"compile", "exec", "code.__new__", "function.__new__", "marshal.loads"})
DESCRIPTOR_ACCESS = frozenset({"open", "os.listdir", "os.scandir"})
DESCRIPTOR_FOLDERS = re.compile(r"/(proc/(self|thread-self|\d+)(/task/\d+)?/fd(info)?|dev/fd)(/|$)")
STANDARD_LOADERS = (SourceFileLoader, SourcelessFileLoader)
IMPORT_SYSTEM = "<frozen importlib._bootstrap_external>"


def trusted_folders() -> tuple[str, ...]:
    """Where the grader and the installed libraries live (read-only in every sandbox)."""
    folders = {*site.getsitepackages(), site.getusersitepackages(), GRADER_FOLDER}
    folders |= {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    return tuple(folders)


class Tripwire:
    def __init__(
        self, report: Callable[[str], None], protected: set[int], classes: list[type], channel: int
    ) -> None:
        self._report = report
        self._protected = {*protected, 1, 0, -1}
        self._channel = channel
        self._trusted = trusted_folders()
        self._busy = threading.local()
        self._modules = self._grader_modules()
        self._methods = _methods(classes)

    # ------------------------------------------------------------------ module snapshot
    @staticmethod
    def _grader_modules() -> dict[str, dict[str, Any]]:
        return {
            name: dict(vars(module))
            for name, module in list(sys.modules.items())
            if isinstance(module, ModuleType) and (name == "grader" or name.startswith("grader."))
        }

    def replaced(self) -> list[str]:
        """The grader's module attributes that are no longer what they were at install."""
        found = []
        for name, before in self._modules.items():
            module = sys.modules.get(name)
            now = vars(module) if isinstance(module, ModuleType) else {}
            for attribute, value in before.items():
                if now.get(attribute, None) is not value:
                    found.append(f"the grader's `{name}.{attribute}` was replaced")
        for cls, before in self._methods.items():
            now = vars(cls)
            found += [
                f"`{cls.__qualname__}.{name}` of {_package(cls)} was replaced"
                for name, value in before.items()
                if now.get(name, None) is not value
            ]
        return found

    # ------------------------------------------------------------------ audit hook
    def install(self) -> None:
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in WATCHED or getattr(self._busy, "active", False) or not self._relevant(event, args):
            return
        self._busy.active = True  # what the hook itself touches raises events too
        try:
            finding = self._judge(event, args)
            if finding:
                self._report(finding)
        except Exception:  # a hook that raises would break the event for everyone
            pass
        finally:
            self._busy.active = False

    def _relevant(self, event: str, args: tuple[Any, ...]) -> bool:
        """A cheap first look at the frequent events (every file opened, every module executed)."""
        if event in DESCRIPTOR_ACCESS:
            target = args[0]
            if isinstance(target, int):
                return target == self._channel
            return isinstance(target, str | bytes) and bool(DESCRIPTOR_FOLDERS.match(os.fsdecode(target)))
        if event in CODE_MAKING and event != "marshal.loads":
            made = args[0] if event in ("exec", "function.__new__") else args[1]
            file = made.co_filename if isinstance(made, CodeType) else made
            return isinstance(file, str) and file.startswith((*self._trusted, STDLIB_FOLDER))
        return True

    def _judge(self, event: str, args: tuple[Any, ...]) -> str | None:
        caller = self._student_caller()
        if caller is None:
            return None
        where = f"{Path(caller.f_code.co_filename).name}:{caller.f_lineno}"
        if event in DESCRIPTOR_ACCESS:
            return f"the worker's own file descriptors were opened or listed (`{event}`) at {where}"
        if event in CODE_MAKING:
            if self._imported(caller):
                return None
            return f"code was made under the file name of the grader or a library (`{event}`) at {where}"
        if event in OBJECT_WALKS or event in TRACING or event in MEMORY_ACCESS:
            return f"`{event}` called at {where}"
        if event == "sys._getframe" and self._is_grader(args[0]):
            return f"the grader's frames were read (`sys._getframe`) at {where}"
        if event == "object.__getattr__" and args[1] in FRAME_ATTRIBUTES:
            frame = args[0].tb_frame if args[1] == "tb_frame" else args[0]
            frame = frame if isinstance(frame, FrameType) else None
            if frame is not None and self._is_grader(frame):
                return f"the grader's frames were read (`{args[1]}`) at {where}"
            return None
        if event in ("object.__setattr__", "object.__delattr__") and _protected(args[0]):
            owner = getattr(args[0], "__qualname__", type(args[0]).__name__)
            return f"`{owner}.{args[1]}` of {_package(args[0])} was changed at {where}"
        if event in SIGNALS and (args[0] in self._protected or args[0] < 0 or event == "os.killpg"):
            return f"a signal was sent to the grader's processes at {where}"
        return None

    def _student_caller(self) -> FrameType | None:
        frame = sys._getframe(3)  # past this method, `_judge` and the hook
        while frame is not None:
            file = frame.f_code.co_filename
            if file.startswith(self._trusted):  # site-packages may lie inside the stdlib's folder
                return None
            if not file.startswith(("<frozen", STDLIB_FOLDER)):
                return frame
            frame = frame.f_back
        return None

    @staticmethod
    def _imported(caller: FrameType) -> bool:
        """Whether the import system's standard loaders, below the student's frame, are loading a file."""
        frame = sys._getframe(3)
        while frame is not None and frame is not caller:
            if frame.f_code.co_filename == IMPORT_SYSTEM and frame.f_code.co_name == "exec_module":
                return type(frame.f_locals.get("self")) in STANDARD_LOADERS
            frame = frame.f_back
        return False

    @staticmethod
    def _is_grader(frame: object) -> bool:
        return isinstance(frame, FrameType) and frame.f_code.co_filename.startswith(GRADER_FOLDER)


WATCHED = OBJECT_WALKS | TRACING | MEMORY_ACCESS | SIGNALS | CODE_MAKING | DESCRIPTOR_ACCESS
WATCHED |= {"sys._getframe", "object.__getattr__", "object.__setattr__", "object.__delattr__"}


def _package(target: object) -> str:
    return (getattr(target, "__module__", None) or "").split(".")[0]


def _protected(target: object) -> bool:
    return isinstance(target, type | FunctionType) and _package(target) in PROTECTED_PACKAGES


def _methods(classes: list[type]) -> dict[type, dict[str, Any]]:
    """The functions, properties and descriptors each class of a protected package defines."""
    kinds = (FunctionType, property, classmethod, staticmethod)
    return {
        cls: {name: value for name, value in vars(cls).items() if isinstance(value, kinds)}
        for cls in dict.fromkeys(base for start in classes for base in start.__mro__)
        if _package(cls) in PROTECTED_PACKAGES
    }


def install(
    report: Callable[[str], None], classes: list[type], protected: set[int], channel: int
) -> Tripwire:
    """Install the hook; `classes` (and their bases) are the library classes whose methods the
    grader relies on, `protected` the pids of the grader's processes, `channel` the pipe's descriptor."""
    tripwire = Tripwire(report, protected, classes, channel)
    tripwire.install()
    return tripwire
