"""Raises the `checkpoint-not-logged` hint: the module's own `ModelCheckpoint` watches
`val_loss`, which `validation_step` logs as `validation_loss`."""

from _fitting import SmallModel, fit
from lightning.pytorch.callbacks import ModelCheckpoint


class MyAwesomeModel(SmallModel):
    def configure_callbacks(self):
        return [ModelCheckpoint(monitor="val_loss")]


if __name__ == "__main__":
    fit(MyAwesomeModel())
