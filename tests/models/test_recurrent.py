"""lessons_lib.models.recurrent: the LSTM classifier equals our NumPy LSTM (Chapter 4); the BiLSTM-CTC model
equals each sequence run alone, both directions, and gives log-probabilities (Chapter 5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons_lib import rnn
from lessons_lib.models.recurrent import BiLSTMCTC, LSTMClassifier


def _batch(lengths, n_features, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    T = max(lengths)
    x = torch.randn(T, len(lengths), n_features, generator=g, dtype=dtype)
    for b, n in enumerate(lengths):
        x[n:, b] = 0.0
    return x, torch.tensor(lengths)


@pytest.mark.parametrize("readout", ["last", "mean"])
def test_classifier_equals_numpy_lstm_per_sequence(readout):
    torch.manual_seed(0)
    net = LSTMClassifier(5, 7, n_classes=4, readout=readout).double()
    lengths = [1, 9, 4, 9]
    x, n = _batch(lengths, 5)
    params = rnn.from_state_dict(net.lstm.state_dict())
    W, b = net.out.weight.detach().numpy(), net.out.bias.detach().numpy()
    expected = []
    for k, T in enumerate(lengths):
        zeros = np.zeros((1, 7))
        states, h_last, _, _ = rnn.lstm_forward(x[:T, k : k + 1].numpy(), zeros, zeros, **params)
        summary = h_last[0] if readout == "last" else states[:, 0].mean(axis=0)
        expected.append(summary @ W.T + b)
    with torch.no_grad():
        got = net(x, n).numpy()
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=1e-13)


def test_classifier_ignores_whatever_the_padding_holds():
    torch.manual_seed(1)
    net = LSTMClassifier(3, 4).double()
    x, n = _batch([2, 6], 3)
    noisy = x.clone()
    noisy[2:, 0] = 1e3
    with torch.no_grad():
        assert torch.equal(net(x, n)[0], net(noisy, n)[0])


def test_bilstm_ctc_equals_each_sequence_alone_and_normalises():
    torch.manual_seed(2)
    net = BiLSTMCTC(6, 5, n_classes=11, n_layers=2).double().eval()
    lengths = [7, 3, 1, 7]
    x, n = _batch(lengths, 6, seed=3)
    with torch.no_grad():
        log_y = net(x, n)
        assert log_y.shape == (7, 4, 11)
        for k, T in enumerate(lengths):
            alone = net(x[:T, k : k + 1], torch.tensor([T]))[:, 0]
            torch.testing.assert_close(log_y[:T, k], alone, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(log_y.exp().sum(-1), torch.ones(7, 4, dtype=torch.float64))


def test_bilstm_ctc_backward_direction_starts_at_each_end():
    """A hand-run backward LSTM from the last real frame gives the second half of the states."""
    torch.manual_seed(4)
    net = BiLSTMCTC(3, 4, n_classes=5).double()
    x, n = _batch([5, 2], 3, seed=5)
    weights = {k.removesuffix("_reverse"): v for k, v in net.lstm.state_dict().items() if k.endswith("_reverse")}
    params = rnn.from_state_dict(weights)
    zeros = np.zeros((1, 4))
    back, _, _, _ = rnn.lstm_forward(x[:2, 1:2].numpy()[::-1].copy(), zeros, zeros, **params)
    forward = rnn.from_state_dict({k: v for k, v in net.lstm.state_dict().items() if not k.endswith("_reverse")})
    ahead, _, _, _ = rnn.lstm_forward(x[:2, 1:2].numpy(), zeros, zeros, **forward)
    states = np.concatenate([ahead[:, 0], back[::-1, 0]], axis=1)
    expected = torch.log_softmax(net.out(torch.from_numpy(states)), dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(net(x, n)[:2, 1], expected, rtol=1e-12, atol=1e-12)


def test_bad_input_is_named():
    net = LSTMClassifier(3, 4)
    with pytest.raises(ValueError, match="readout"):
        LSTMClassifier(3, 4, readout="max")
    with pytest.raises(ValueError, match="x must have shape"):
        net(torch.zeros(5, 2, 4), torch.tensor([5, 5]))
    with pytest.raises(ValueError, match="lengths must have shape"):
        net(torch.zeros(5, 2, 3), torch.tensor([5]))
    with pytest.raises(ValueError, match="lengths must be integers in 1..5"):
        net(torch.zeros(5, 2, 3), torch.tensor([6, 1]))
    with pytest.raises(ValueError, match="lengths must be integers"):
        net(torch.zeros(5, 2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="dropout"):
        BiLSTMCTC(3, 4, 5, n_layers=2, dropout=1.0)
    with pytest.raises((TypeError, ValueError), match="hidden"):
        BiLSTMCTC(3, 0, 5)
