#!/usr/bin/env python
# coding: utf-8

# # M14 - PyTorch Lightning
# Converting my MNIST model from day 1 into a `LightningModule`.

# In[1]:


get_ipython().system('pip install lightning')
get_ipython().run_line_magic('matplotlib', 'inline')


# In[2]:


import matplotlib.pyplot as plt
import torch
from torch import nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, EarlyStopping


# In[3]:


train_images = torch.load('corruptmnist/train_images_0.pt')
train_target = torch.load('corruptmnist/train_target_0.pt')
test_images = torch.load('corruptmnist/test_images.pt')
test_target = torch.load('corruptmnist/test_target.pt')
print(train_images.shape, train_target.shape)


# In[4]:


plt.imshow(train_images[0], cmap='gray')
plt.title(f'label: {train_target[0]}')
plt.show()


# ## The model

# In[5]:


HIDDEN = 128
LR = 1e-3


# In[6]:


class MyAwesomeModel(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 13 * 13, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv(x)))
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log('train_loss', loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        loss = F.cross_entropy(out, y)
        self.log('val_loss', loss)
        self.log('val_acc', (out.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=LR)


# In[7]:


model = MyAwesomeModel()
model


# ## Training

# In[8]:


train_loader = DataLoader(TensorDataset(train_images.unsqueeze(1), train_target), batch_size=64, shuffle=True)
val_loader = DataLoader(TensorDataset(test_images.unsqueeze(1), test_target), batch_size=64)

trainer = L.Trainer(
    max_epochs=10,
    accelerator='gpu',
    callbacks=[ModelCheckpoint(monitor='val_loss'), EarlyStopping(monitor='val_loss')],
)
trainer.fit(model, train_loader, val_loader)


# In[ ]:




