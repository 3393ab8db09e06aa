"""Recurrent networks on feature frames: a many-to-one LSTM classifier and a BiLSTM acoustic model for CTC.

Both read frames in PyTorch's recurrent layout, ``(time, batch, features)``,
zero-padded after each sequence's end, with the true lengths beside them.

* :class:`LSTMClassifier` (Chapter 4): an LSTM reads the frames; a linear layer
  maps the state after each sequence's own last frame, :math:`\\mathbf h_{T_b}`
  (or the mean of its states) to class scores. Many-to-one.
* :class:`BiLSTMCTC` (Chapter 5): a bidirectional LSTM reads the frames, each
  direction stopping at each sequence's own end (packing); a linear layer and a
  log-softmax give :math:`\\log y^t_k` for every step and class, PyTorch's CTC
  layout ``(time, batch, classes)``. Many-to-many.

Chapter: ``notebooks/04c_lstm_digits.ipynb`` and ``notebooks/05b_ctc_digits.ipynb``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .._checks import positive_int

__all__ = ["LSTMClassifier", "BiLSTMCTC"]


def _check_lengths(x: torch.Tensor, lengths: torch.Tensor, n_features: int) -> torch.Tensor:
    if x.ndim != 3 or x.shape[2] != n_features:
        raise ValueError(f"x must have shape (time, batch, {n_features}), got {tuple(x.shape)}")
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (x.shape[1],):
        raise ValueError(f"lengths must have shape ({x.shape[1]},), one per sequence, got {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or int(lengths.min()) < 1 or int(lengths.max()) > x.shape[0]:
        raise ValueError(f"lengths must be integers in 1..{x.shape[0]} (the padded length)")
    return lengths


class LSTMClassifier(torch.nn.Module):
    """Many-to-one: an LSTM reads the frames, a linear layer classifies its last (or mean) state.

    .. math::

        \\mathbf z = \\mathbf W_{hy} \\mathbf s + \\mathbf b_y, \\qquad
        \\mathbf s = \\mathbf h_{T} \\;(\\text{``last''}) \\text{ or }
        \\frac{1}{T} \\sum_{t=1}^{T} \\mathbf h_t \\;(\\text{``mean''}),

    with :math:`T` each sequence's own length: the padded batch is run through the
    LSTM, and the state is read at each sequence's own end, which the padding after it
    cannot have touched.

    Parameters
    ----------
    n_features : int
        Input size (39 for the MFCC frames of Chapter 1).
    hidden : int
        LSTM units.
    n_classes : int, default 10
    readout : {"last", "mean"}, default "last"

    Attributes
    ----------
    lstm : torch.nn.LSTM
        Its ``state_dict`` loads into ``lessons_lib.rnn`` through ``rnn.from_state_dict``.
    out : torch.nn.Linear
        :math:`\\mathbf W_{hy}, \\mathbf b_y`.
    """

    def __init__(self, n_features: int, hidden: int, n_classes: int = 10, readout: str = "last"):
        super().__init__()
        if readout not in ("last", "mean"):
            raise ValueError(f"readout must be 'last' or 'mean', got {readout!r}")
        self.n_features = positive_int(n_features, "n_features")
        self.lstm = torch.nn.LSTM(self.n_features, positive_int(hidden, "hidden"))
        self.out = torch.nn.Linear(hidden, positive_int(n_classes, "n_classes"))
        self.readout = readout

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class scores.

        Parameters
        ----------
        x : Tensor, shape (time, batch, n_features)
            Zero-padded after each sequence's end.
        lengths : Tensor of int, shape (batch,)

        Returns
        -------
        Tensor, shape (batch, n_classes)
            The logits :math:`\\mathbf z`.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> net = LSTMClassifier(3, 8)
        >>> x = torch.randn(5, 2, 3)
        >>> alone = net(x[:2, :1], torch.tensor([2]))  # the first sequence alone, 2 frames
        >>> torch.allclose(net(x, torch.tensor([2, 5]))[:1], alone, atol=1e-6)
        True
        """
        lengths = _check_lengths(x, lengths, self.n_features).to(x.device)
        states = self.lstm(x)[0]  # (time, batch, hidden)
        if self.readout == "last":
            summary = states[lengths - 1, torch.arange(len(lengths), device=x.device)]
        else:
            real = torch.arange(len(states), device=x.device)[:, None] < lengths[None]  # (time, batch)
            summary = (states * real[..., None]).sum(dim=0) / lengths[:, None].to(states)
        return self.out(summary)


class BiLSTMCTC(torch.nn.Module):
    """Acoustic model for CTC: a bidirectional LSTM and a linear layer give log-probabilities per step.

    .. math::

        \\log y^t_k = \\log \\operatorname{softmax}_k\\big(\\mathbf W [\\overrightarrow{\\mathbf h}_t;
        \\overleftarrow{\\mathbf h}_t] + \\mathbf b\\big),

    the forward and backward states concatenated. The padded batch is packed, so that
    both directions stop at each sequence's own end (the backward direction *starts*
    there; on a padded batch it would start in the padding).

    Parameters
    ----------
    n_features : int
        Input size per step (e.g. 4 stacked 39-dim MFCC frames: 156).
    hidden : int
        LSTM units per direction.
    n_classes : int
        Output classes, the blank included.
    n_layers : int, default 1
    dropout : float, default 0.0
        Between LSTM layers (only when ``n_layers > 1``).
    """

    def __init__(self, n_features: int, hidden: int, n_classes: int, n_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_features = positive_int(n_features, "n_features")
        n_layers = positive_int(n_layers, "n_layers")
        self.lstm = torch.nn.LSTM(self.n_features, positive_int(hidden, "hidden"), num_layers=n_layers,
                                  bidirectional=True, dropout=dropout if n_layers > 1 else 0.0)
        self.out = torch.nn.Linear(2 * hidden, positive_int(n_classes, "n_classes"))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every class at every step.

        Parameters
        ----------
        x : Tensor, shape (time, batch, n_features)
            Zero-padded after each sequence's end.
        lengths : Tensor of int64, shape (batch,)
            On the CPU (``pack_padded_sequence`` wants them there; other devices are copied).

        Returns
        -------
        Tensor, shape (time, batch, n_classes)
            :math:`\\log y^t_k`; steps after a sequence's end are padding.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> net = BiLSTMCTC(3, 4, n_classes=5)
        >>> log_y = net(torch.randn(6, 2, 3), torch.tensor([6, 4]))
        >>> tuple(log_y.shape), torch.allclose(log_y.exp().sum(-1), torch.ones(6, 2))
        ((6, 2, 5), True)
        """
        lengths = _check_lengths(x, lengths, self.n_features).cpu()
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.lstm(packed)[0], total_length=x.shape[0])  # (time, batch, 2 hidden)
        return F.log_softmax(self.out(states), dim=-1)
