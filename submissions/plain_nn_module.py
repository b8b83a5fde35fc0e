import torch
from torch import nn, optim


class MyAwesomeModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        return self.fc1(self.dropout(x))


def train(lr: float = 1e-3, epochs: int = 10) -> None:
    model = MyAwesomeModel()
    train_set = torch.load("data/processed/train.pt")
    loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        print(f"Epoch {epoch} loss {loss.item()}")
    torch.save(model.state_dict(), "model.pth")


if __name__ == "__main__":
    train()
