from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from model import MyAwesomeModel

model = MyAwesomeModel()
trainer = Trainer(
    max_epochs=10,
    accelerator="gpu",
    callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
)
trainer.fit(model)
