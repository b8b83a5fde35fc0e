# train script for exercise M14 - reads hyperparameters from config.yaml
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from model import MyAwesomeModel

config = OmegaConf.load("config.yaml")
params = config.hyperparameters
torch.manual_seed(params.seed)

train_set = TensorDataset(
    torch.load("data/processed/train_images.pt").unsqueeze(1),
    torch.load("data/processed/train_target.pt"),
)
test_set = TensorDataset(
    torch.load("data/processed/test_images.pt").unsqueeze(1),
    torch.load("data/processed/test_target.pt"),
)
trainloader = DataLoader(train_set, batch_size=params.batch_size, shuffle=True)
testloader = DataLoader(test_set, batch_size=params.batch_size)

model = MyAwesomeModel(params.hidden, params.dropout, lr=params.lr)

checkpoint_callback = ModelCheckpoint(dirpath="./models", monitor="val_loss", mode="min")
early_stopping_callback = EarlyStopping(monitor="val_loss", patience=3, verbose=True, mode="min")
trainer = pl.Trainer(
    max_epochs=params.epochs,
    accelerator="gpu",
    callbacks=[checkpoint_callback, early_stopping_callback],
)
trainer.fit(model, trainloader, testloader)
torch.save(model.state_dict(), "models/trained_model.pt")
