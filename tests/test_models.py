import torch
from torch import nn

from hwlib.models import CNNSettings, last_conv_block, load_or_train_cnn, small_cnn
from hwlib.train import DeviceData


def toy_data(n=256):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.randint(0, 40, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    for i, label in enumerate(y.tolist()):  # a bright square whose position encodes the class
        x[i, :, 3 * label : 3 * label + 4, 3 * label : 3 * label + 4] = 255
    return DeviceData(x[:200], y[:200], x[200:], y[200:])


def test_small_cnn_shapes_and_grad_cam_layer():
    model = small_cnn((8, 16, 16, 32)).eval()
    out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10)
    features = []
    last_conv_block(model).register_forward_hook(lambda m, i, o: features.append(o))
    model(torch.rand(1, 3, 32, 32))
    assert features[0].shape == (1, 32, 4, 4)
    assert all(not m.inplace for m in model.modules() if isinstance(m, nn.ReLU))  # guided backprop needs this


def test_training_is_cached_under_data_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path))
    data = toy_data()
    settings = CNNSettings(widths=(8, 8, 16, 16), epochs=2, batch_size=50, lr=0.05)
    model, record, cached = load_or_train_cnn(data, settings)
    assert not cached and len(list(tmp_path.glob("cnn-*.pt"))) == 1
    assert len(record.epoch_test_acc) == 2 and 0 <= record.test_acc <= 1 and record.train_seconds > 0
    again, record2, cached2 = load_or_train_cnn(data, settings)
    assert cached2 and record2 == record
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), again.state_dict().values()))
    x = torch.rand(3, 3, 32, 32)
    torch.testing.assert_close(model(x), again(x))
    _, _, cached3 = load_or_train_cnn(data, CNNSettings(widths=(8, 8, 16, 16), epochs=1, batch_size=50, lr=0.05))
    assert not cached3  # other settings, other key
    changed = DeviceData(data.train_x.clone(), data.train_y, data.test_x, data.test_y)
    changed.train_x[0, 0, 0, 0] += 1
    assert not load_or_train_cnn(changed, settings)[2]  # other data, other key
