class ModelCheckpoint:
    def __init__(self, *args, monitor=None, **kwargs):
        self.monitor, self.best_model_path, self.best_model_score = monitor, "", 0.01


class EarlyStopping:
    def __init__(self, *args, monitor=None, **kwargs):
        self.monitor, self.wait_count, self.stopped_epoch, self.best_score = monitor, 0, 0, 0.01
