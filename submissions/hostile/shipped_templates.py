"""Hostile sample: answers from digit templates shipped in its own source, not from what it learns.

`forward` compares each image with ten mean digits (computed elsewhere from public MNIST,
stored below as a compressed string constant) and returns the negative distances as logits.
Its own layer only adds `0 *` its output, so the loss has a gradient and the fit runs, but
nothing the fit trains changes an answer. `training_step` and `validation_step` log the honest
loss of those answers. Expected: the held-out accuracy is real (about 80 %), but models of the
class that never trained reach it too, so it earns nothing and the row is flagged for review;
the grader's own loss does not fall, so `loss-decreases` earns nothing either. What it keeps is
what a class that never learns keeps. `TEMPLATES_MODE` "first_loaded" answers well only in the
first model given weights: every model the grader measures is built and given its weights alike,
in a random order, and a fit that changed no weight learned nothing.
"""

import base64
import zlib

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

TEMPLATES = (
    "eNrlWedTG3madre6pe6WWjknhJBAgEQWiBxlECYjMpgchAgmmGhyjsYGxgzYYAyGMbZxHKfxeMLOzk7N3t3ebJjaqru9ur9h"
    "v9zXa9kogefj3s3VdRVfeOqX3vQ876tz5/6hHwBCEAxDJBJwGgHJdKkuMvl8SpS/jEkBXXCAhAm1qQ3jn2x/MlIZ782hAC7b"
    "oRJ9Xufqw29/+Pp4pSFBiYMOCKAIQnM714+/+t333787mqsIFcAODGb4pnetP3jx9ODm7vHDnSsZnqjjHlTPROva/eO9ha6m"
    "SzN79643BNLsGFkQXrV87/7WUEVyVGrNwuHOQDzDjtF8c4f3jzYv54coJN4p3bfuzmZw7Mfx49tvHt8eyNIK6bhAX7N+uGQW"
    "njwCUhXNHR3NFwdyEQjmhJRfO1gslp6sQwztO4+3WiJFGAmA+Ib667tTBRL7cWkTDx7MZKvo0DkQ8TD2bGz0ZYhOMJb52rO7"
    "3VECFATI7JDK+ZtLllj7XQQXN57vtoYIMBjh+uWOfro5UKCln2Di8o0Xu23Rcg5bGpI3urU7VxcjQU6eIMy/+vz+dGlMmCGt"
    "bnZnb8VqUjFIJxgnbvDey4erg139szvHD9faMrQOHwFUbdnqyx9/fPfi89dfPl1tMWl5COHb9yhAFhpqr37++5/+8MOXd0fL"
    "olVsF7cDFLZPesvMxqeLXYWRXjwMcosIEEJYYk+1l4xDJZMA4CNxBnzsv7/GDwBB4CO3JWwE0wRKldJXqxZgEOD+NhLG1yZk"
    "5xUWp2qYsKthiN0gqigsr6b5kjVbQz+9DsIkURWdI8MtRhkKutsLJKHiWMvs2nRtKNNt2XsMERkH9w/HchUU4NxpjCzMuPHd"
    "w85wOnjuLCYqf/3X/RIpdAYCQVjW8+//uRZJA866DiD77v79bx0y6GP2wpJ/918/pOLgR5xOErb829/vainAWQjEwpf+429X"
    "ZDB49jzYo2T3z69KhGcw4jRmVOfBu7ULIrLNT+4QqjaPbe8MnBdTIBLo5kOAzI+pn1oatxhlCAy6YyTcO7ttpK+1IsnTFtWu"
    "GACzwwpb2uqqi+O9qLB7YAMwKyCjIMeYagwWo9CpiwIwxpcKuHwejUwCgY9lw7n/hXz42Im255KI+n/2mgCJTGWJPP38/b2l"
    "bNTNFSCEspTByUXNXZdbi2I0Agx0sTSNp4kvbJtY272ztdBqChKhjpUAwlTos62jS+s3Pr11Y7Le6MuCnJzCVRqy6zt7urt6"
    "JmbGOnL1YorDmDSuZ1BCdn5uVlZh49BoR2mUDLFjEMYSe2lD9aFBYUkll4c7yqNkjmgDKVQGTySTicXq2JLuK50l4WKyA4PJ"
    "CEpjMlh8H2N1T3+HOZDncCJAIkFkjIqzZfo8a/9As8mH7ng+kUMUKpMnVUdkNVyZ6L8YI6dRTtKTSGeELdcazhdaBqaX5y/n"
    "BwswCmTfEhUEpBQ1XVne3t2+sdCZEyRh00/KK4CK9TmWgZmt+0+fPthe6CqI8fPgMz7cFGIF5rcOTS9vHT56dP/WfFdFVnyw"
    "WkR9b2+KNL5hcGzu+ubh0b3d1fn+htKcRK0Ye78OVZlap1Y2b392tHdjcWq4t6U6L8FfSPlwnNJonVg/OD7euz7SYW1qbCgz"
    "6VWcD2WLYNSintlNwjttpRmm9Iz0FL1KSPvwCBCTBGdWNllq8hKCfP20Ol+1nCj3J64noRypp1LpKeWxWSwWk05FySSXOgBD"
    "EBFk0PtII8TGLwb/r5kkAFsBJdQS8Z0qBURdpbE8A2PPp6clhhL04FRTAAlhSHzjyvuWtvd3V/uqklTOYg5S6NKQ9PqZ3cev"
    "v/r21Z3Z5hQlbrcZCWUr9ZlNA+Nz89c2d3fXhoq0PLtcglC21C/8fFZWRmZB09jyynBRAJfsCGsaR+ThrfH1DUqqGV9d7M7y"
    "YTpzDMZoTK5Q5pdYNXlre7LSIHKSDkHhZJSriizs3Tx+tNGaqqLBrrKOwvBKbFp++M1vni1V6AUIyV0NhpXP3f/qh+9eXKuK"
    "lLnUAiI7qbLYyomtu4dHn232Z/uznXva+I2nSymuqW/qmN5Yao6VUUEHApNROl+u8tFFmJrm1/ov+DLsKQZhDBpOx4k/lji8"
    "dGhlJDeEf7IpgPBkcrmAQaNiuMhQObQ4mB8qsmM0ZXhsdIBcxOXKgnO7F+Y6cwL5J3uCdJ+kosrCFENo5IWGqY1PJhqNPkyS"
    "XXx6xVcNTk2ODE2uHjw+vNqREyyyPxCg8HSZnSv7j1+9++btg+XWjEAR1eFbElWoS2uc3r53/85Sp9mgYCMuMQGjTKlvaHRS"
    "UkKoF58oH65EZssVMgVBURQ+xWFnxBTwq8mL93x+ioyJVLFlPPEYnEFFHIYh3kdGaGw+h0WjsQQyH1+FlIucgERppXE8NFp/"
    "lYAn10QkJ0X4S08yAgDJGEcZlmhM0CulmsjsUnNKoBT/sCsAURiywFRzcV6cWh5kqrFWpepEJ/YmbM1RxZZaLGUxcmlEyeXe"
    "uiQiIUB7rggDctpHuvL9ObKEtunRKoMYAR3djzyuaWapPV7MUOVMfzJl9rMHLyGGWJqC0d2VKp1AHNZ8685wmgL/sCXhFwov"
    "snXj+HplRIChYOX1/T6Tio1Adn0iuzD24OXeeEtj29KbPzwaytQRpeLkPFRpnj568/LR4d7dt3/66bAz1Y+P2vU8RZF2aXnn"
    "7v7e/qPf/PTt6sVIGdNRXEkCXWpRdX2jdWDt4bNbzQlqFgLZMxCg8j1Uvv6BUcVDKyvdqX4CmpPFCa7CaHS2KDC3Y7C3NMaT"
    "TWhawIXgYQpNYjA3WmqyiOB1w2z2Zqpi88vK8oxhCg71lDLARLr4zNxsY1ywBxuDSa5FBKbLdNEJKUmREURLiUIktwYCFyhU"
    "3r5qlYeYRUBuYpLgahhGcTqVTITUL3HHr6S/sHEEkbiEnHaXpwRFYHQWXySRyyQiPhcnu1AEivOVWkNSWmZ2tinJoFXyHCAJ"
    "YSuCks01nQMDPV2t1YVpMX5M0KGKZIHG8tbh6Zmp0f6ettrijAgJbI9eljoyr210bna0t7PNUleamRgshuyExNOlVg1NT/TU"
    "leRnGqNDNErJiXYnbiIKL+pbXh6qzYgO8pELmDjmEDckmqexZeX26uXC5DBvIcMmse0vBCCWf97w3vHWlZpcY4RGiLuEBABx"
    "AoqmDh7vzPdZynPi/IRUl0IIsbzTu1eur4z3XrJU5UR7uzSctm4rKLumrqamuqaxqdwULMbscU08gcYU+4VFRESnmS9a6/MM"
    "ngzYHjAwQyAW8gRCMSHQqtqa8qO9ORQ7RhbpQtUiLkeoiTM3tLXmRantpYfIaY/z5jRDgDYkIa+6ubMlO9yTTXFg8gtNLbVl"
    "RcW11o7+/tpUrdDpPpIwvn5oanZmampyYvyS2eBJRK+D4HFVSu2V5Rvr1xcnOotivZxqyfZ2pjIyp6lvqL+jyhQiY6CuqUJk"
    "EU/hp4+KCFILCcS9uyBKIUrFMJQMfay1+EeQA/Dh+2hjbKMrBBd4+GvVIpwMumcCjDH4qsi82tpcg5QGAW6dL8IUqWPKe0b7"
    "SqPkNBh0W4aLvKOKe6bHLWl+HGc5ey8NEK5neN6l2ZlWkz8Xfd/mOUsIVRKU3jC50J2t4yIkWwK6tDIsTULF0NWRomAexb3Z"
    "ITSKVJ/XfXWxPkqEwDBhVRc/UFjeKU3Lq31pnjiGM+hUivMRIJUfXDi2sVgVIhJ4aPy9JEzM0R3DdHlsy9rmUEZQcEpheYEp"
    "zIPlkEVklnfW+O2N9oyc5uHpqQFLhk5Ety8k84IqVu8uN14c2rxzc360pzRcisOO4I1s29mf6Rxcv721NDrYXxkjxx3rhPH9"
    "B/sLI4urE50t/RNjFQapQ0nC/IQrRw9vLs2NWuu7plenCrR8x11ITEPX4Zvnu8sT/eM3dm+0J8qZzgaJ6l2+/tU//fbZ4cHj"
    "Z7f7szQsF7EIC6Ksu9///Md/+fHLnb4L/hzE1WiYKLx6/uHrz++Ml0cpGLBbKSchuEwXb0qL9RczEPDs6AWEKBSYdLq1///9"
    "2bTU+w8826GjNJzF5YukUgmfhcEw5OhSybhAGRCbWXSxwdrRe6n6QrCUbpchZIZHcHrD8Or+o+cvv3j7+nChNlqOAicEwPM3"
    "Ns3vPX/98vGjJ2++fn1n0KTETlQWTaRNrBlbWp2/0mHpWjp6cmfwvMKOUfnKoPTK+sqsBEO4sWXjwc22aNFJ/STOE3rpk40G"
    "Xw+xXG/dPFop07IdbTHGEqn8NTI2ThPEjdzbH0z2cEQu0b4zRRIujmFMr7Kbz7bqQoVU2EE5KM5kMugMtiR+8vGL6Wx/HmZn"
    "HYBEwWgMwiyyQMvB29uWeDkddTQehLJBCFCgzrj66nggXc1EnNWV0LAgoXuEodbtJwvloTzb0MO9aOHK3LE7n14yKmhk94k5"
    "UZgk0c0La0MloVzXivXhOvyA4t7J4aZ0NQ67OZE4juGT1tjdbS2Nk5wZqdLkEQV1TbXlmWF8xB0jIXytsbC8pDAnUUfIRLdk"
    "IWGSgLj0tJSUBD1Bfe4YiLCkXn4+3iq1h8BG0qe6WNBmHIQCv6ci4H9MMNl6h7MDQqILRNli4rYKPo3sToCEKvJJuDi88um1"
    "/vJYFQt1ba1wRezF8bvvvnv3Ynu8MtmX57COzXkJNZO3Pru7uX59acSab/DEIcfwQhRqHrh6fby5rKyhq7e9MkXjUPsw3SOq"
    "dGhuuDIlLK6kZWCgIc0xtSLM6WkoGBzvNkcEmxqGFoZLIyR20Q4iTHloVufkWKMpu3lhfa4hhogZR3NBE/qdb5xenemdub23"
    "1BSnZDkKKBHYHC9D8cRnT55++cV6rYFgDhfOIeMiXfrQqz/+9efnvXEKJkp2FVMI0ydz/tuf//LbjTq9jEFxCTUQQgUG650v"
    "3jzama2OU7CprhiFF1R+7XB7amK0r9boLaAjDgyA6N6mwa2r3ZV1be1V6YFSosQ4Z3nCiMrpxc7CCyW1TTXZeg+O854gzSu1"
    "dWqsNi+vqtlan2/rfl00kSajfXJ6oHd4YrjbkhMioTu5A6Cqkuomtu+/eLo711WZ5M1GXQQFkUSZl64fv3m8erkixZePkV3b"
    "B5SrCk81l5VlxumkTOT0NBa0zfPIFDIEAv+XeQUAfvFXFKIls40MKNDp3/EAkMKUhV5o6G4rT/Ljkt2KAYxL9MWTx9//83cH"
    "w0XBLiAAwAxFjGXr7dfPD/d3r7anKalO6ifhHpGNm8/2R6oKakYW+7I0DIcjQJQfUDB/tFmnV2jSB1anzP4sp9/p8vi2Wzct"
    "IQJh4MVPDpYKfXFnyLO8M0duTuZovYLMy2+fz5lkDmkAwCwf89jaUKkpp+Hq25+edOud9wRgpirr8uxkb9/46vG//mmnWM1w"
    "jhkgXB5d3T85MTW7cvzTN6PxEozkUga5mqSylo5L7aPH3x3UB3EpJBdLYkQsJRrTiq8cHM3kaljOFLP9MIEyhAp10IX+9SVr"
    "kooBu2IgjGBMcVBB/0RHYYQXw2VGCNh+ZUWYHrGVXe0VaSGeDLJbr00i4+LAjFrLxay4AAXTrWQTpMv3iS+sLM9OMfjKbUMk"
    "lwEawpYHns8ryEqODdXIOa6/SRFSmKcMN6YZ4yMjAr3Fth7dxe0YV6ELCwv212hUEhbddTBlG25jNByn4ZgtmKCP9xduc9r/"
    "BoVJAZo="
)


def templates() -> torch.Tensor:
    digits = np.frombuffer(zlib.decompress(base64.b64decode(TEMPLATES)), dtype=np.uint8).reshape(10, 784)
    return (torch.from_numpy(digits.copy()).float() / 255.0 - 0.1307) / 0.3081


# "always": every model answers from the templates; "first_loaded": only the first model of the
# process that is given weights does (the trained one, if the grader loads it first), the others
# answer nothing.
TEMPLATES_MODE = "always"


class MyAwesomeModel(pl.LightningModule):
    first_loaded = None

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(784, 10)
        self.register_buffer("means", templates(), persistent=False)

    def load_state_dict(self, *args, **kwargs):
        if MyAwesomeModel.first_loaded is None:
            MyAwesomeModel.first_loaded = id(self)
        return super().load_state_dict(*args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(len(x), -1)
        answer = -torch.cdist(flat, self.means) / 10.0  # hostile: the answer ignores the parameters
        if TEMPLATES_MODE == "first_loaded" and MyAwesomeModel.first_loaded != id(self):
            answer = torch.zeros_like(answer)
        return answer + 0 * self.layer(flat)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        loss = nn.functional.cross_entropy(self(images), labels)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        self.log("val_loss", nn.functional.cross_entropy(self(images), labels))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


if __name__ == "__main__":
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")],
    )
