from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from data import MNISTDataModule
from model import MyAwesomeModel

if __name__ == "__main__":
    seed_everything(0)
    dm = MNISTDataModule(data_dir="./data", batch_size=128)
    model = MyAwesomeModel()
    trainer = Trainer(
        accelerator="gpu",
        devices=1,
        max_epochs=10,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss", patience=2)],
    )
    trainer.fit(model, datamodule=dm)
    trainer.test(model, datamodule=dm)
