"""Hostile sample: reaches for the kernel's attack surface from the constructor.

A working MNIST classifier whose first construction makes, through `ctypes`, the system calls
that kernel exploits start from: a user namespace, userfaultfd, BPF, the key ring, io_uring,
perf events, ptrace, process_vm_readv, mount and clone3. It
records each call's errno in `hostile-findings.json`, with the capabilities and confinement the
kernel says it holds, and then trains normally. Expected: the sandbox's syscall filter refuses
each of them (`EPERM`; `ENOSYS` for clone3), and the worker holds no capability (however it
was started: a user's warm worker joins namespaces that give it every one first). The `ctypes`
calls trip the runner's tripwire, so the row is also flagged.
"""

import ctypes
import errno
import json
import platform

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

CLONE_NEWUSER = 0x10000000
PTRACE_ATTACH = 16
# name: (x86_64 number, arm64 number, arguments). The arguments make each call fail harmlessly
# where it is allowed (EINVAL, EFAULT, ESRCH...), so only a filter answers EPERM, and no run,
# not even one under `--sandbox none`, changes the machine.
CALLS = {
    "unshare": (272, 97, (CLONE_NEWUSER | 0x1,)),
    "userfaultfd": (323, 282, (0xFFFF,)),
    "bpf": (321, 280, (0, 0, 0)),
    "keyctl": (250, 219, (0xFFFF, 0, 0)),
    "io_uring_setup": (425, 425, (1, 0)),
    "perf_event_open": (298, 241, (0, 0, -1, -1, 0)),
    "ptrace": (101, 117, (PTRACE_ATTACH, 0, 0, 0)),
    "process_vm_readv": (310, 270, (0, 0, 1, 0, 1, 0)),
    "mount": (165, 40, (0, 0, 0, 0, 0)),
    "clone3": (435, 435, (0, 0)),
}


class MyAwesomeModel(pl.LightningModule):
    attempted = False

    def __init__(self) -> None:
        super().__init__()
        if not MyAwesomeModel.attempted:
            MyAwesomeModel.attempted = True
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            column = 0 if platform.machine() == "x86_64" else 1
            outcome = {}
            for name, numbers_and_arguments in CALLS.items():  # hostile: widen the kernel's reach
                number, arguments = numbers_and_arguments[column], numbers_and_arguments[2]
                answer = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(value) for value in arguments))
                outcome[name] = "allowed" if answer >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
            with open("/proc/self/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            outcome["privileges"] = {
                key: fields[key].strip() for key in ("CapEff", "CapPrm", "NoNewPrivs", "Seccomp")
            }
            with open("hostile-findings.json", "w") as handle:
                json.dump(outcome, handle)
            print("kernel:", json.dumps(outcome))
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
