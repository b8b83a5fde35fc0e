import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from model import MyAwesomeModel

model = MyAwesomeModel()

checkpoint = ModelCheckpoint(dirpath="models/", monitor="val_loss", mode="min")
early_stop = EarlyStopping(monitor="val_loss", patience=3, mode="min")

trainer = pl.Trainer(accelerator="gpu", max_epochs=15, callbacks=[checkpoint, early_stop])
trainer.fit(model)
