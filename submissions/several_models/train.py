import typer
from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from models import MyAwesomeModel

app = typer.Typer()


@app.command()
def train(epochs: int = 10) -> None:
    trainer = Trainer(
        max_epochs=epochs,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss", patience=2)],
    )
    trainer.fit(MyAwesomeModel())


if __name__ == "__main__":
    app()
