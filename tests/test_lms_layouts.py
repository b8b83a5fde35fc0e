"""An LMS's own download, read as each platform names it: one submission per student, original names.

The downloads here are built exactly as each platform names its entries (`grader/host/lms/layouts.py`
says which page documents each naming), and read without a sandbox; `tests/test_quick_start.py`
grades a Canvas zip end to end.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from grader.host.batch import fingerprint
from grader.host.cli import chosen
from grader.host.grading import GradingContext
from grader.host.lms.download import read_download
from grader.host.lms.layouts import LAYOUTS, LayoutName
from grader.host.prepare.data import make_splits
from grader.rubric import load_rubric
from grader.sandbox.local import LocalSandbox
from tests.conftest import SAMPLES

# Two modules of one student's repository: the one imports the other by its own name.
HELPER = "def double(x):\n    return 2 * x\n"
MAIN = "from helper import double\n\nprint(double(21))\n"


def write(folder: Path, name: str, text: str = "x = 1\n") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def by_name(download) -> dict:
    return {s.name: s for s in download.submissions}


def canvas_download(folder: Path) -> Path:
    """Three students: two files importing each other, a late one, and a file handed in again."""
    write(folder, "doejane_12345_67890_helper.py", HELPER)
    write(folder, "doejane_12345_67890_main.py", MAIN)
    write(folder, "smithbob_LATE_222_333_solution.py")
    write(folder, "leeann_444_555_model.py", "first = True\n")
    write(folder, "leeann_444_555_model-1.py", "second = True\n")
    write(folder, "leeann_444_555_train.py")
    return folder


def test_a_canvas_download_is_one_submission_per_student_under_the_original_names(tmp_path: Path) -> None:
    download = read_download(canvas_download(tmp_path / "canvas"))
    assert download.layout == "canvas"
    assert download.reason == "6 of 6 entries named lastfirst_<user id>_<submission id>_<file>"
    students = by_name(download)
    assert set(students) == {"doejane_12345", "smithbob_222", "leeann_444"}

    jane = students["doejane_12345"]
    assert sorted(p.name for p in jane.path.iterdir()) == ["helper.py", "main.py"]
    ran = subprocess.run([sys.executable, "main.py"], cwd=jane.path, capture_output=True, text=True)
    assert ran.stdout.strip() == "42", ran.stderr  # the two files import each other as in the repository
    assert jane.student.model_dump() == {
        "key": "doejane_12345",
        "platform": "canvas",
        "name": "doejane",
        "ids": {"user_id": "12345", "submission_id": "67890"},
        "late": False,
        "attempt": None,
        "files": ["helper.py", "main.py"],
    }

    bob = students["smithbob_222"]
    assert bob.student.late and (bob.path / "solution.py").is_file()

    ann = students["leeann_444"]  # model-1.py is model.py handed in again: it is the one graded
    assert sorted(p.name for p in ann.path.iterdir()) == ["model.py", "train.py"]
    assert (ann.path / "model.py").read_text() == "second = True\n"
    assert ann.student.attempt == 2 and not ann.student.late
    download.close()
    assert not ann.path.exists()  # the grouped copies go with the run


def test_a_zip_straight_from_canvas_reads_as_its_folder_does(tmp_path: Path) -> None:
    folder = canvas_download(tmp_path / "canvas")
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for entry in folder.iterdir():
            zipped.write(entry, entry.name)
        zipped.writestr("__MACOSX/._doejane_12345_67890_main.py", "noise")
    from_zip, from_folder = read_download(archive), read_download(folder)
    assert from_zip.layout == "canvas" and from_zip.reason == from_folder.reason
    assert [s.student for s in from_zip.submissions] == [s.student for s in from_folder.submissions]
    jane = by_name(from_zip)["doejane_12345"]
    assert (jane.path / "main.py").read_text() == MAIN
    assert from_zip.folder in jane.path.parents and from_zip.private == (from_zip.folder,)


def test_a_moodle_download_merges_a_students_folders_and_unpacks_a_lone_zip(tmp_path: Path) -> None:
    folder = tmp_path / "moodle"
    write(folder, "Jane Doe_101_assignsubmission_file_/helper.py", HELPER)
    write(folder, "Jane Doe_101_assignsubmission_file_/main.py", MAIN)
    write(folder, "Jane Doe_101_assignsubmission_onlinetext_/onlinetext.html", "<p>see files</p>")
    with zipfile.ZipFile(
        write(folder, "Bob Smith_102_assignsubmission_file_/project.zip").parent / "project.zip", "w"
    ) as z:
        z.writestr("project/model.py", "x = 1\n")
    write(folder, "Ann Lee_103_assignsubmission_file_/solution.py")

    download = read_download(folder)
    assert download.layout == "moodle"
    students = by_name(download)
    assert set(students) == {"Jane_Doe_101", "Bob_Smith_102", "Ann_Lee_103"}
    jane = students["Jane_Doe_101"]
    assert sorted(p.name for p in jane.path.iterdir()) == ["helper.py", "main.py"]  # no onlinetext.html
    assert jane.student.name == "Jane Doe" and jane.student.ids == {"participant_id": "101"}
    assert students["Bob_Smith_102"].path.name == "project.zip"  # staging unpacks it, as any zip
    ann = students["Ann_Lee_103"]
    assert ann.path == folder / "Ann Lee_103_assignsubmission_file_"  # one folder: read where it is


def test_blackboard_keeps_a_students_latest_attempt_and_reads_the_receipt(tmp_path: Path) -> None:
    folder = tmp_path / "blackboard"
    first, second = "2026-11-01-10-00-00", "2026-11-02-09-30-00"
    write(folder, f"M14_Lightning_alice_attempt_{first}_main.py", "old = True\n")
    write(folder, f"M14_Lightning_alice_attempt_{first}.txt", "Name: Alice Archer (alice)\nAssignment: M14\n")
    write(folder, f"M14_Lightning_alice_attempt_{second}_main.py", MAIN)
    write(folder, f"M14_Lightning_alice_attempt_{second}_helper.py", HELPER)
    receipt = "Name: Alice Archer (alice)\nAssignment: M14\n\nComments:\nName: Mallory (bob)\n"
    write(folder, f"M14_Lightning_alice_attempt_{second}.txt", receipt)
    write(folder, f"M14_Lightning_bob_attempt_{first}_solution.py")
    write(folder, f"M14_Lightning_bob_attempt_{first}.txt", "Name: Bob Baker (bob)\n")

    download = read_download(folder)
    assert download.layout == "blackboard"
    alice, bob = by_name(download)["alice"], by_name(download)["bob"]
    assert sorted(p.name for p in alice.path.iterdir()) == ["helper.py", "main.py"]
    assert (alice.path / "main.py").read_text() == MAIN  # the latest attempt, and only it
    assert alice.student.attempt == 2 and alice.student.ids == {"username": "alice", "attempt": second}
    assert alice.student.name == "Alice Archer"  # the receipt's own line, not the student's comment
    assert bob.student.name == "Bob Baker" and bob.student.attempt == 1
    assert any("alice: the latest of 2 attempts is graded" in w for w in download.warnings)


def test_a_brightspace_download_with_its_index_and_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "brightspace"
    write(folder, "1001-2001 - Doe, Jane- Nov 3, 2026 1015 PM - helper.py", HELPER)
    write(folder, "1001-2002 - Doe, Jane- Nov 3, 2026 1015 PM - main.py", MAIN)
    write(folder, "0998-1990 - Doe, Jane- Nov 1, 2026 115 PM - main.py", "old = True\n")
    write(folder, "1003 - Lee, Ann- Nov 2, 2026 915 AM/solution.py")
    write(folder, "index.html", "<table><tr><td>Doe, Jane</td></tr></table>")

    download = read_download(folder)
    assert download.layout == "brightspace"
    assert download.reason.startswith("5 of 5 entries named")
    jane, ann = by_name(download)["Doe_Jane"], by_name(download)["Lee_Ann"]
    assert sorted(p.name for p in jane.path.iterdir()) == ["helper.py", "main.py"]
    assert (jane.path / "main.py").read_text() == MAIN
    assert jane.student.name == "Doe, Jane" and jane.student.ids == {"submission_id": "1001"}
    assert jane.student.attempt == 2
    assert ann.path == folder / "1003 - Lee, Ann- Nov 2, 2026 915 AM"


def test_github_classroom_clones_are_keyed_by_login(tmp_path: Path) -> None:
    folder = tmp_path / "m14-lightning-submissions"  # as `gh classroom clone student-repos` names it
    write(folder, "m14-lightning-alice/model.py")
    write(folder, "m14-lightning-alice/.git/HEAD", "ref: refs/heads/main\n")
    write(folder, "m14-lightning-bob-smith/src/model.py")
    write(folder, "m14-lightning-Carol9/train.py")

    download = read_download(folder)
    assert download.layout == "github"
    assert download.reason == "3 of 3 entries named <assignment prefix>-<login>"
    students = by_name(download)
    assert set(students) == {"alice", "bob-smith", "Carol9"}
    assert students["alice"].path == folder / "m14-lightning-alice"  # the clone itself: nothing copied
    assert students["bob-smith"].student.ids == {
        "github": "bob-smith",
        "repository": "m14-lightning-bob-smith",
    }


def test_the_samples_and_a_students_own_zip_stay_plain(tmp_path: Path) -> None:
    samples = read_download(SAMPLES)
    assert samples.layout == "plain" and samples.folder is None
    assert samples.reason == "each entry is one submission: no platform's naming fits its names"
    assert "correct_lightning" in by_name(samples) and all(s.student is None for s in samples.submissions)
    own = read_download(SAMPLES / "s204711_lms_download.zip")
    assert own.layout == "plain" and [s.path for s in own.submissions] == [
        SAMPLES / "s204711_lms_download.zip"
    ]
    single = read_download(SAMPLES / "syntax_error.py")
    assert single.layout == "plain" and [s.name for s in single.submissions] == ["syntax_error"]


def test_an_entry_no_layout_names_is_graded_apart_never_lost(tmp_path: Path) -> None:
    folder = canvas_download(tmp_path / "canvas")
    write(folder, "late_by_email.py")
    write(folder, "README.md", "TA notes")
    detected = read_download(folder)
    assert detected.layout == "plain"
    assert "canvas names 6 of 7 entries: --layout reads it so" in detected.reason
    asked = read_download(folder, "canvas")
    assert asked.layout == "canvas" and asked.reason.startswith("chosen with --layout; 6 of 7 entries named")
    assert set(by_name(asked)) == {"doejane_12345", "smithbob_222", "leeann_444", "late_by_email"}
    assert by_name(asked)["late_by_email"].student is None
    assert any("late_by_email.py is not named as canvas names entries" in w for w in asked.warnings)
    assert any("README.md" in w for w in asked.warnings)


def test_names_a_student_controls_never_leave_the_folder_nor_take_anothers_row(tmp_path: Path) -> None:
    folder = tmp_path / "moodle"
    write(folder, "Jane Doe_101_assignsubmission_file_/main.py")
    # A second account spelled to land on the same key, and claiming the same participant id.
    write(folder, "Jane  Doe_101_assignsubmission_file_/main.py", "mallory = True\n")
    download = read_download(folder)
    assert sorted(by_name(download)) == ["Jane_Doe_101", "Jane_Doe_101_2"]
    assert any("graded apart as Jane_Doe_101_2" in w for w in download.warnings)
    assert any("2 entries claim moodle participant_id 101" in w for w in download.warnings)

    canvas = tmp_path / "canvas"
    write(canvas, "eve_9_9_..", "x = 1\n")
    write(canvas, "eve_9_9_model.py")
    kept = read_download(canvas)  # its copies live as long as it does
    eve = kept.submissions[0]
    assert sorted(p.name for p in eve.path.iterdir()) == ["file", "model.py"]
    assert all(eve.path in p.parents for p in eve.path.rglob("*"))

    # Regraded alone, a zip Canvas named is its student's, whatever its own entries claim to be.
    handed_in = tmp_path / "eve_777_888_project.zip"
    with zipfile.ZipFile(handed_in, "w") as zipped:
        zipped.writestr("doejane_12345_67890_model.py", "x = 1\n")
    alone = read_download(handed_in)
    assert [s.name for s in alone.submissions] == ["eve_777"]
    assert alone.submissions[0].path.name == "project.zip"


def test_only_takes_student_keys_and_the_layouts_are_one_registry(tmp_path: Path) -> None:
    folder = canvas_download(tmp_path / "canvas")
    download = read_download(folder)
    picked = chosen(download.submissions, "leeann_444,doejane_12345", folder)
    assert [s.name for s in picked] == ["leeann_444", "doejane_12345"]
    assert (
        list(LayoutName.__members__)
        == list(LAYOUTS)
        == [
            "canvas",
            "moodle",
            "blackboard",
            "brightspace",
            "github",
            "plain",
        ]
    )


def test_a_changed_late_flag_changes_the_fingerprint(tmp_path: Path) -> None:
    rubric = load_rubric("m14")
    splits = make_splits(rubric.data, tmp_path / "nodata", download=False)
    context = GradingContext(rubric, splits, LocalSandbox(), tmp_path, tmp_path)
    folder = canvas_download(tmp_path / "canvas")
    on_time = by_name(read_download(folder))["smithbob_222"]
    (folder / "smithbob_LATE_222_333_solution.py").rename(folder / "smithbob_222_333_solution.py")
    late_no_more = by_name(read_download(folder))["smithbob_222"]
    assert on_time.student.late and not late_no_more.student.late
    assert fingerprint(on_time, context) != fingerprint(late_no_more, context)


# A two-file student (tests/test_quick_start.py grades them): the LightningModule in model.py, its training
# in train.py.
MODEL_PY = '''"""The network and its Lightning steps."""

import lightning as L
import torch
from torch import nn


class DigitNet(L.LightningModule):
    def __init__(self, width: int = 96, lr: float = 2e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, width),
            nn.ReLU(),
            nn.Linear(width, 10),
        )

    def forward(self, x):
        return self.layers(x)

    def step(self, batch):
        images, labels = batch
        logits = self(images)
        loss = nn.functional.cross_entropy(logits, labels)
        return loss, (logits.argmax(dim=1) == labels).float().mean()

    def training_step(self, batch, batch_idx):
        loss, accuracy = self.step(batch)
        self.log("train_loss", loss)
        self.log("train_acc", accuracy)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, accuracy = self.step(batch)
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_acc", accuracy)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
'''
TRAIN_PY = '''"""Training DigitNet on MNIST, with the checkpoint and early stopping of the exercise."""

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from model import DigitNet


def main() -> None:
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    to_tensor = transforms.ToTensor()
    train = datasets.MNIST("data", train=True, download=True, transform=to_tensor)
    val = datasets.MNIST("data", train=False, download=True, transform=to_tensor)
    trainer = L.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss", patience=1)],
    )
    trainer.fit(DigitNet(), DataLoader(train, batch_size=64, shuffle=True), DataLoader(val, batch_size=256))


if __name__ == "__main__":
    main()
'''
