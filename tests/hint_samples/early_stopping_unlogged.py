"""Raises the `early-stopping-not-logged` hint: the module's own `EarlyStopping` watches
`val_loss`, which `validation_step` logs as `validation_loss`."""

from _fitting import SmallModel, fit
from lightning.pytorch.callbacks import EarlyStopping


class MyAwesomeModel(SmallModel):
    def configure_callbacks(self):
        return [EarlyStopping(monitor="val_loss")]


if __name__ == "__main__":
    fit(MyAwesomeModel())
