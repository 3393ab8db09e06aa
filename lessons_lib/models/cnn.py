r"""The CNN classics of image recognition, written from ``torch.nn`` primitives, to classify spectrograms.

Six families, each answering a question its predecessors raised:

====================  ============================  ====================================================
family                paper                         what it solved
====================  ============================  ====================================================
:class:`AlexNet`      Krizhevsky et al., 2012       a deep CNN trained on GPUs beats hand-made features
:class:`VGG`          Simonyan and Zisserman, 2015  depth, from stacks of small 3x3 kernels
:class:`GoogLeNet`    Szegedy et al., 2015          width at low cost: parallel branches, 1x1 reductions
:class:`ResNet`       He et al., 2016               very deep nets that still train: identity shortcuts
:class:`DenseNet`     Huang et al., 2017            feature reuse: every layer sees all earlier ones
:class:`SqueezeNet`   Iandola et al., 2016          AlexNet's accuracy with 50 times fewer parameters
====================  ============================  ====================================================

One small ``nn.Module`` per named piece of a paper (:class:`BasicBlock`,
:class:`Bottleneck`, :class:`Inception`, :class:`InceptionAux`,
:class:`DenseLayer`, :class:`DenseBlock`, :class:`Transition`, :class:`Fire`)
and one builder per published configuration, named as torchvision's:
:func:`alexnet`, :func:`vgg11` ... :func:`vgg19_bn`, :func:`googlenet`,
:func:`resnet18`, :func:`resnet34`, :func:`resnet50`, :func:`densenet121`,
:func:`squeezenet1_0`, :func:`squeezenet1_1`.

Equal to torchvision. At the ImageNet configuration (``num_classes=1000,
in_channels=3, width=1.0``) every model has the state-dict keys and shapes of
torchvision 0.28's model of the same name, so
``ours.load_state_dict(theirs.state_dict())`` works (strict) and both compute
the same outputs; torchvision's pretrained ImageNet weights therefore load
unchanged (the transfer-learning notebook does this in Colab; this module
downloads nothing). :func:`torchvision_models` imports torchvision's model
code, the reference of the tests, even where torchvision's compiled operators
cannot load. :func:`count_flops` counts multiply-adds the way torchvision's
published "GFLOPS" do.

Shapes. Every model takes ``(batch, in_channels, height, width)`` and returns
class scores (logits), ``(batch, num_classes)``. A log-mel spectrogram from
:class:`lessons_lib.models.frontend.LogMel`, ``(batch, n_mels, n_frames)``,
becomes a one-channel image with ``.unsqueeze(1)``: height is frequency (mel
bands, lowest first), width is time (frames). With adaptive pooling before
each classifier, any input at least ``min_size`` high and wide works,
non-square spectrograms included (40 x 101, 64 x 101, ...).

Three options on every builder change the published configuration:

* ``num_classes``: the outputs of the last layer (10 for spoken digits);
* ``in_channels``: the inputs of the first convolution (1 for a spectrogram);
* ``width``: a multiplier of every hidden channel count. Each count ``n`` of
  the paper's tables becomes ``max(1, round(width * n))``: the convolutions'
  output channels (and so the inputs of the next), ResNet's stage widths,
  GoogLeNet's six branch widths per Inception module and its auxiliary heads'
  128 channels and 1024 units, DenseNet's initial 64 features and growth
  rate 32, SqueezeNet's squeeze and expand widths, and the 4096-unit hidden
  layers of AlexNet's and VGG's classifiers. Left alone: ``in_channels``,
  ``num_classes``, kernel sizes, strides, depths, ResNet's expansion 4,
  DenseNet's ``bn_size`` 4 and compression 1/2, and the pooled grids before
  the classifiers (6 x 6, 7 x 7, 4 x 4). ``width=0.5`` halves every hidden
  count exactly; parameters shrink about as ``width**2``.

For audio, two more pieces: :func:`baseline_cnn`, a small CNN that borrows
nothing from ImageNet (the yardstick of the chapter), and
:class:`SpectrogramClassifier`, which puts the log-mel front end, SpecAugment
(in training) and a fixed scaling in front of any of these networks, so that a
model takes waveforms and a checkpoint holds the whole classifier.

Chapter: ``notebooks/06b_cnn_classifiers.ipynb`` (the six and the baseline on
FSDD) and ``notebooks/06c_cnn_evaluation.ipynb`` (unseen speakers, saliency,
transfer learning).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import math
import re
import sys
import types
from collections import OrderedDict, namedtuple
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int, real_number

__all__ = [
    "AlexNet", "alexnet",
    "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "BasicConv2d", "Inception", "InceptionAux", "GoogLeNet", "GoogLeNetOutputs", "googlenet",
    "BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50",
    "DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121",
    "Fire", "SqueezeNet", "squeezenet1_0", "squeezenet1_1",
    "BaselineCNN", "baseline_cnn", "SpectrogramClassifier",
    "count_flops", "torchvision_models",
    "VGG_CONFIGS", "INCEPTION_CONFIGS", "SQUEEZENET_CONFIGS",
]


# --------------------------------------------------------------------------- shared checks and helpers


def _width(value) -> float:
    width = real_number(value, "width")
    if width <= 0:
        raise ValueError(f"width must be > 0 (a multiplier of every hidden channel count), got {value}")
    return width


def _scaled(channels: int, width: float) -> int:
    """A channel count of the paper's tables times ``width``, rounded, at least 1."""
    return max(1, round(channels * width))


def _probability(value, name: str) -> float:
    p = real_number(value, name)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return p


class _Classifier(nn.Module):
    """What every model here shares: its options, and one cheap check of the input in ``forward``."""

    min_size: int = 1  # the smallest height and width whose feature maps are not empty

    def __init__(self, num_classes, in_channels, width):
        super().__init__()
        self.num_classes = positive_int(num_classes, "num_classes")
        self.in_channels = positive_int(in_channels, "in_channels")
        self.width = _width(width)

    def _check_input(self, x) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, shape (batch, {self.in_channels}, height, width), "
                            f"got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (batch, {self.in_channels}, height, width): "
                             f"{self.in_channels} input channels, got shape {tuple(x.shape)}")
        if x.shape[2] < self.min_size or x.shape[3] < self.min_size:
            raise ValueError(f"x is {x.shape[2]} x {x.shape[3]} (height x width), but {type(self).__name__} needs "
                             f"at least {self.min_size} x {self.min_size}: its strided convolutions and poolings "
                             f"would leave an empty feature map")


def _init_conv_bn(module: nn.Module, *, conv_mode: str = "fan_out") -> None:
    """He-normal convolutions (zero bias), batch norms at the identity (scale 1, shift 0)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode=conv_mode, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------- AlexNet


class AlexNet(_Classifier):
    r"""AlexNet: five convolutions and three fully connected layers, the network that started it all.

    The story. Until 2012 image recognition meant hand-designed features
    (SIFT, HOG) and a linear classifier. Krizhevsky, Sutskever and Hinton
    trained a CNN of 61 million parameters on the 1.2 million images of
    ImageNet, on two GPUs, and won ILSVRC 2012 with a top-5 error of 15.3 %,
    against 26.2 % for the runner-up. What made it train became standard:
    ReLU instead of saturating tanh, dropout in the big fully connected layers,
    data augmentation, and GPUs. This is torchvision's variant, the single-GPU
    "one weird trick" layout (Krizhevsky, 2014): 64-192-384-256-256 channels
    and no local response normalization.

    Layers: ``features`` (conv 11x11 stride 4, max-pool, conv 5x5, max-pool,
    three conv 3x3, max-pool; each conv followed by ReLU), ``avgpool`` (adaptive,
    to 6 x 6), ``classifier`` (dropout, 9216 -> 4096, ReLU, dropout,
    4096 -> 4096, ReLU, 4096 -> ``num_classes``). 61,100,840 parameters at the
    ImageNet configuration, about 59 million of them in the classifier.

    Reference: A. Krizhevsky, I. Sutskever, G. E. Hinton, "ImageNet
    classification with deep convolutional neural networks", NeurIPS 2012.

    Parameters
    ----------
    num_classes : int, default 1000
    in_channels : int, default 3
    width : float, default 1.0
        Scales every channel count and the 4096-unit hidden layers (see the module docstring).
    dropout : float, default 0.5

    Attributes
    ----------
    min_size : int
        63: the smallest height and width it accepts.

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """

    min_size = 63

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, dropout: float = 0.5):
        super().__init__(num_classes, in_channels, width)
        dropout = _probability(dropout, "dropout")
        c1, c2, c3, c4, c5, hidden = (_scaled(n, self.width) for n in (64, 192, 384, 256, 256, 4096))
        self.features = nn.Sequential(
            nn.Conv2d(self.in_channels, c1, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c5 * 6 * 6, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, self.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``, of ``x``, shape ``(batch, in_channels, height, width)``."""
        self._check_input(x)
        x = self.avgpool(self.features(x))  # (batch, 256 width, 6, 6)
        return self.classifier(torch.flatten(x, 1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> AlexNet:
    """AlexNet (Krizhevsky et al., 2012), torchvision's single-GPU layout; see :class:`AlexNet`.

    Parameters
    ----------
    num_classes : int, default 1000
    in_channels : int, default 3
    width : float, default 1.0
        Multiplier of every channel count and of the 4096-unit classifier layers.
    dropout : float, default 0.5

    Returns
    -------
    AlexNet
        Maps ``(batch, in_channels, height, width)`` to ``(batch, num_classes)``,
        height and width at least 63.

    Raises
    ------
    ValueError
        ``num_classes`` or ``in_channels`` below 1, ``width`` not positive, ``dropout`` outside [0, 1).

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in alexnet().parameters())
    61100840
    >>> net = alexnet(num_classes=10, in_channels=1, width=0.0625)  # 64 mel bands x 101 frames, one channel
    >>> net(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return AlexNet(num_classes, in_channels, width, dropout)


# --------------------------------------------------------------------------- VGG

# Channel counts of the 3x3 convolutions, "M" a 2x2 max-pool: Table 1 of the paper, columns A, B, D, E.
VGG_CONFIGS: dict[int, tuple] = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


class VGG(_Classifier):
    r"""VGG: depth from nothing but 3x3 convolutions, 11 to 19 weight layers.

    The story. After AlexNet the question was what matters most, and
    Simonyan and Zisserman answered: depth. They fixed every kernel at 3 x 3
    and stacked them. Two stacked 3 x 3 convolutions see a 5 x 5 window and
    three see 7 x 7, with fewer parameters (:math:`2 \cdot 9 C^2` against
    :math:`25 C^2` for :math:`C` channels) and a ReLU between each. Error fell
    steadily from 11 to 16 layers and flattened at 19. The simple, uniform
    design made VGG the favourite feature extractor for years, at a price: 138
    million parameters for VGG-16, 103 million of them in the first fully
    connected layer (25088 x 4096), and 15.5 GFLOPs per image. The ``_bn``
    variants add a batch norm after each convolution (Ioffe and Szegedy, 2015),
    which lets the deep stacks train from scratch without the paper's staged
    initialization.

    Layers: ``features`` (the stack of ``VGG_CONFIGS[depth]``: each number a
    3x3 convolution, padding 1, [batch norm], ReLU; "M" a 2x2 max-pool),
    ``avgpool`` (adaptive, to 7 x 7), ``classifier`` (25088 -> 4096, ReLU,
    dropout, 4096 -> 4096, ReLU, dropout, 4096 -> ``num_classes``).

    Reference: K. Simonyan, A. Zisserman, "Very deep convolutional networks for
    large-scale image recognition", ICLR 2015.

    Parameters
    ----------
    depth : {11, 13, 16, 19}
        Weight layers: configurations A, B, D, E of the paper.
    batch_norm : bool, default False
    num_classes, in_channels, width, dropout
        As :class:`AlexNet` (``width`` scales the 4096-unit layers too).

    Attributes
    ----------
    min_size : int
        32: five 2x2 poolings.

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """

    min_size = 32

    def __init__(self, depth: int = 16, batch_norm: bool = False, num_classes: int = 1000, in_channels: int = 3,
                 width: float = 1.0, dropout: float = 0.5):
        super().__init__(num_classes, in_channels, width)
        if depth not in VGG_CONFIGS:
            raise ValueError(f"depth must be one of {sorted(VGG_CONFIGS)}, got {depth!r}")
        dropout = _probability(dropout, "dropout")
        self.depth, self.batch_norm = depth, bool(batch_norm)
        layers: list[nn.Module] = []
        channels = self.in_channels
        for item in VGG_CONFIGS[depth]:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            out = _scaled(item, self.width)
            layers.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
            if self.batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = _scaled(4096, self.width)
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, self.num_classes),
        )
        _init_conv_bn(self)
        for m in self.classifier:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``, of ``x``, shape ``(batch, in_channels, height, width)``."""
        self._check_input(x)
        x = self.avgpool(self.features(x))  # (batch, 512 width, 7, 7)
        return self.classifier(torch.flatten(x, 1))


def vgg11(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> VGG:
    """VGG-11 (configuration A of Simonyan and Zisserman, 2015): 8 convolutions and 3 fully connected layers.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`VGG`; ``width`` also scales the 4096-unit classifier layers.

    Returns
    -------
    VGG
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 32;
        132,863,336 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`VGG`.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in vgg11().parameters())
    132863336
    >>> vgg11(num_classes=10, in_channels=1, width=0.0625)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return VGG(11, False, num_classes, in_channels, width, dropout)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> VGG:
    """VGG-11-BN (configuration A of Simonyan and Zisserman, 2015): 8 convolutions, each with a batch norm.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`VGG`; ``width`` also scales the 4096-unit classifier layers.

    Returns
    -------
    VGG
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 32;
        132,868,840 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`VGG`.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in vgg11_bn().parameters())
    132868840
    >>> vgg11_bn(num_classes=10, in_channels=1, width=0.0625)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return VGG(11, True, num_classes, in_channels, width, dropout)


def vgg13(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> VGG:
    """VGG-13 (configuration B of Simonyan and Zisserman, 2015): 10 convolutions and 3 fully connected layers.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`VGG`; ``width`` also scales the 4096-unit classifier layers.

    Returns
    -------
    VGG
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 32;
        133,047,848 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`VGG`.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in vgg13().parameters())
    133047848
    >>> vgg13(num_classes=10, in_channels=1, width=0.0625)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return VGG(13, False, num_classes, in_channels, width, dropout)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> VGG:
    """VGG-13-BN (configuration B of Simonyan and Zisserman, 2015): 10 convolutions, each with a batch norm.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`VGG`; ``width`` also scales the 4096-unit classifier layers.

    Returns
    -------
    VGG
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 32;
        133,053,736 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`VGG`.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in vgg13_bn().parameters())
    133053736
    >>> vgg13_bn(num_classes=10, in_channels=1, width=0.0625)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return VGG(13, True, num_classes, in_channels, width, dropout)


def vgg16(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> VGG:
    """VGG-16 (configuration D of Simonyan and Zisserman, 2015): 13 convolutions and 3 fully connected layers.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`VGG`; ``width`` also scales the 4096-unit classifier layers.

    Returns
    -------
    VGG
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 32;
        138,357,544 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`VGG`.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in vgg16().parameters())
    138357544
    >>> vgg16(num_classes=10, in_channels=1, width=0.0625)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return VGG(16, False, num_classes, in_channels, width, dropout)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> VGG:
    """VGG-16-BN (configuration D of Simonyan and Zisserman, 2015): 13 convolutions, each with a batch norm.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`VGG`; ``width`` also scales the 4096-unit classifier layers.

    Returns
    -------
    VGG
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 32;
        138,365,992 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`VGG`.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in vgg16_bn().parameters())
    138365992
    >>> vgg16_bn(num_classes=10, in_channels=1, width=0.0625)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return VGG(16, True, num_classes, in_channels, width, dropout)


def vgg19(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> VGG:
    """VGG-19 (configuration E of Simonyan and Zisserman, 2015): 16 convolutions and 3 fully connected layers.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`VGG`; ``width`` also scales the 4096-unit classifier layers.

    Returns
    -------
    VGG
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 32;
        143,667,240 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`VGG`.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in vgg19().parameters())
    143667240
    >>> vgg19(num_classes=10, in_channels=1, width=0.0625)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return VGG(19, False, num_classes, in_channels, width, dropout)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, dropout: float = 0.5) -> VGG:
    """VGG-19-BN (configuration E of Simonyan and Zisserman, 2015): 16 convolutions, each with a batch norm.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`VGG`; ``width`` also scales the 4096-unit classifier layers.

    Returns
    -------
    VGG
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 32;
        143,678,248 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`VGG`.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only: no memory, no time
    ...     sum(p.numel() for p in vgg19_bn().parameters())
    143678248
    >>> vgg19_bn(num_classes=10, in_channels=1, width=0.0625)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return VGG(19, True, num_classes, in_channels, width, dropout)


# --------------------------------------------------------------------------- GoogLeNet (Inception v1)


class BasicConv2d(nn.Module):
    """Convolution (no bias), batch norm (eps 0.001), ReLU: GoogLeNet's unit, torchvision's version of it.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
    stride : int, default 1
    padding : int, default 0

    Attributes
    ----------
    conv : nn.Conv2d
    bn : nn.BatchNorm2d
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(bn(conv(x)))``, shape ``(batch, out_channels, height', width')``."""
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    r"""The Inception module: four parallel branches, concatenated along the channels.

    Branches: a 1x1 convolution (``ch1x1`` channels); a 1x1 reduction to
    ``ch3x3red`` then a 3x3 convolution (``ch3x3``); a 1x1 reduction to
    ``ch5x5red`` then the "5x5" convolution (``ch5x5``); a 3x3 max-pool (stride
    1) then a 1x1 projection (``pool_proj``). Names follow the columns of
    Table 1 of the paper. The 1x1 reductions are the point: a 3x3 or 5x5
    convolution on 480 channels is expensive, on 16 to 128 it is cheap.

    As in torchvision (and so in its pretrained weights), the "5x5" branch uses
    a 3x3 kernel, a known deviation from the paper kept for compatibility
    (pytorch/vision issue 906).

    Parameters
    ----------
    in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj : int

    Attributes
    ----------
    out_channels : int
        ``ch1x1 + ch3x3 + ch5x5 + pool_proj``.
    branch1, branch2, branch3, branch4 : nn.Module
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int):
        super().__init__()
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The four branches of ``x``, concatenated: shape ``(batch, out_channels, height, width)``."""
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """An auxiliary classifier on an intermediate feature map, used in training only.

    Average-pools to 4 x 4, reduces to 128 channels with a 1x1 convolution,
    then 2048 -> 1024 (ReLU, dropout) -> ``num_classes``. Its loss, added with
    weight 0.3 in the paper, sends gradient straight into the middle of the
    network.

    Parameters
    ----------
    in_channels, num_classes : int
    channels : int, default 128
    hidden : int, default 1024
    dropout : float, default 0.7

    Attributes
    ----------
    conv : BasicConv2d
    fc1, fc2 : nn.Linear
    """

    def __init__(self, in_channels: int, num_classes: int, channels: int = 128, hidden: int = 1024,
                 dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, channels, kernel_size=1)
        self.fc1 = nn.Linear(channels * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``, of a feature map ``(batch, in_channels, height, width)``."""
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))  # (batch, 128 width, 4, 4)
        x = F.relu(self.fc1(torch.flatten(x, 1)), inplace=True)
        return self.fc2(self.dropout(x))


GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = """What a training-mode GoogLeNet with auxiliary heads returns (torchvision's field names).

Fields: ``logits``, ``aux_logits2`` (the head after inception4d), ``aux_logits1``
(the head after inception4a), each of shape ``(batch, num_classes)``.
"""

# Per Inception module: ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj (Table 1 of the paper).
INCEPTION_CONFIGS: dict[str, tuple[int, ...]] = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


class GoogLeNet(_Classifier):
    r"""GoogLeNet (Inception v1): 22 layers deep, but wide in parallel branches and cheap thanks to 1x1 convolutions.

    The story. Making a network deeper and wider multiplies its computation and
    parameters. Szegedy et al. asked how to grow it at a fixed budget. Their
    Inception module runs 1x1, 3x3 and 5x5 convolutions and a pooling side by
    side, so that each layer chooses its own scale, and puts a 1x1 convolution
    in front of every expensive one to shrink the channels first, which works
    like a small fully connected layer applied at every position. The whole
    22-layer network has 6.6 million parameters in this version, a ninth of
    AlexNet's, and won ILSVRC 2014. Two auxiliary classifiers in the middle (:class:`InceptionAux`)
    add gradient to the early layers during training; they are discarded
    afterwards. This is torchvision's variant: batch norm after every
    convolution (:class:`BasicConv2d`) and 3x3 kernels in the "5x5" branches.

    Layers: ``conv1`` (7x7 stride 2), ``maxpool1``, ``conv2`` (1x1), ``conv3``
    (3x3), ``maxpool2``, ``inception3a``, ``inception3b``, ``maxpool3``,
    ``inception4a`` ... ``inception4e``, ``maxpool4``, ``inception5a``,
    ``inception5b``, global average pool, ``dropout``, ``fc`` (1024 ->
    ``num_classes``); with ``aux_logits``, ``aux1`` after 4a and ``aux2`` after
    4d. Max-pools round their output size up (``ceil_mode``).

    Outputs: in training mode with ``aux_logits``, a :data:`GoogLeNetOutputs`
    (``logits, aux_logits2, aux_logits1``), as torchvision returns; otherwise
    the logits alone.

    Reference: C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov,
    D. Erhan, V. Vanhoucke, A. Rabinovich, "Going deeper with convolutions",
    CVPR 2015.

    Parameters
    ----------
    num_classes : int, default 1000
    in_channels : int, default 3
    width : float, default 1.0
        Scales every branch width and the auxiliary heads' 128 channels and 1024 units.
    aux_logits : bool, default False
        Build the two auxiliary heads. Off by default, the configuration of the
        published 6,624,904 parameters and of the pretrained weights (torchvision's
        ``googlenet()`` without weights builds them: 13,004,888 parameters).
    dropout : float, default 0.2
        Before ``fc``.
    dropout_aux : float, default 0.7
        Inside the auxiliary heads.

    Notes
    -----
    torchvision's pretrained GoogLeNet was trained on inputs scaled to [-1, 1]
    and sets ``transform_input=True`` to convert ImageNet-normalized inputs;
    this model has no such switch: with those weights, feed it
    ``(x * std + mean - 0.5) / 0.5`` per RGB channel.

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """

    min_size = 15

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, aux_logits: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7):
        super().__init__(num_classes, in_channels, width)
        dropout, dropout_aux = _probability(dropout, "dropout"), _probability(dropout_aux, "dropout_aux")
        self.aux_logits = bool(aux_logits)
        c = lambda n: _scaled(n, self.width)  # noqa: E731
        self.conv1 = BasicConv2d(self.in_channels, c(64), kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(c(64), c(64), kernel_size=1)
        self.conv3 = BasicConv2d(c(64), c(192), kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        channels = c(192)
        for name, config in INCEPTION_CONFIGS.items():
            module = Inception(channels, *(c(n) for n in config))
            setattr(self, f"inception{name}", module)
            channels = module.out_channels
            if name == "3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            elif name == "4e":
                self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        if self.aux_logits:
            self.aux1 = InceptionAux(self.inception4a.out_channels, self.num_classes, c(128), c(1024), dropout_aux)
            self.aux2 = InceptionAux(self.inception4d.out_channels, self.num_classes, c(128), c(1024), dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels, self.num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        """Logits, shape ``(batch, num_classes)``; in training with ``aux_logits``, a :data:`GoogLeNetOutputs`.

        Parameters
        ----------
        x : Tensor, shape (batch, in_channels, height, width)
            Height and width at least 15.
        """
        self._check_input(x)
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))  # 224 -> 28 (stride 8)
        x = self.maxpool3(self.inception3b(self.inception3a(x)))  # -> 14
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))  # -> 7
        x = self.inception5b(self.inception5a(x))  # (batch, 1024 width, 7, 7)
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


def googlenet(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *, aux_logits: bool = False,
              dropout: float = 0.2, dropout_aux: float = 0.7) -> GoogLeNet:
    """GoogLeNet, Inception v1 (Szegedy et al., 2015), torchvision's batch-norm variant; see :class:`GoogLeNet`.

    Parameters
    ----------
    num_classes : int, default 1000
    in_channels : int, default 3
    width : float, default 1.0
    aux_logits : bool, default False
        The two auxiliary heads (training only): 13,004,888 parameters instead of 6,624,904.
    dropout : float, default 0.2
    dropout_aux : float, default 0.7

    Returns
    -------
    GoogLeNet
        Maps ``(batch, in_channels, height, width)`` to ``(batch, num_classes)``
        (a :data:`GoogLeNetOutputs` in training with ``aux_logits``), height and width at least 15.

    Raises
    ------
    ValueError
        ``num_classes`` or ``in_channels`` below 1, ``width`` not positive, a dropout outside [0, 1).

    Examples
    --------
    >>> with torch.device("meta"):
    ...     [sum(p.numel() for p in googlenet(aux_logits=aux).parameters()) for aux in (False, True)]
    [6624904, 13004888]
    >>> net = googlenet(num_classes=10, in_channels=1, width=0.125, aux_logits=True)
    >>> [out.shape for out in net(torch.zeros(2, 1, 64, 101))]  # training: main and auxiliary logits
    [torch.Size([2, 10]), torch.Size([2, 10]), torch.Size([2, 10])]
    >>> net.eval()(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return GoogLeNet(num_classes, in_channels, width, aux_logits, dropout, dropout_aux)


# --------------------------------------------------------------------------- ResNet


def _downsample(in_channels: int, out_channels: int, stride: int) -> nn.Sequential | None:
    """The projection shortcut (1x1 convolution and batch norm) where the identity's shape would not fit."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    r"""ResNet's basic residual block: :math:`y = \mathrm{relu}(x + F(x))`, :math:`F` = two 3x3 convolutions.

    :math:`F(x) = \mathrm{bn}_2(\mathrm{conv}_2(\mathrm{relu}(\mathrm{bn}_1(\mathrm{conv}_1 x))))`; where the
    block changes the resolution (``stride`` 2) or the channels, the shortcut
    is ``downsample(x)``, a 1x1 convolution and batch norm, instead of ``x``.
    Used by ResNet-18 and -34.

    Parameters
    ----------
    in_channels : int
    planes : int
        Channels of both convolutions; the output has ``planes * expansion``, with ``expansion = 1``.
    stride : int, default 1
        Of the first convolution (and of the shortcut).
    """

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _downsample(in_channels, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(F(x) + shortcut(x))``, shape ``(batch, planes, height / stride, width / stride)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    r"""ResNet's bottleneck block: 1x1 reduce, 3x3, 1x1 expand (x4), plus the shortcut.

    The 1x1 convolutions make the 3x3 one work on a quarter of the channels,
    so ResNet-50 costs about as much as ResNet-34 although it is deeper. As in
    torchvision ("ResNet v1.5"), the stride sits on the 3x3 convolution, not
    on the first 1x1 as in the paper.

    Parameters
    ----------
    in_channels : int
    planes : int
        Channels of the 1x1 reduction and the 3x3; the output has ``planes * expansion``, ``expansion = 4``.
    stride : int, default 1
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_channels, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(F(x) + shortcut(x))``, shape ``(batch, 4 planes, height / stride, width / stride)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet(_Classifier):
    r"""ResNet: residual blocks :math:`y = x + F(x)`, so that a deep network trains as easily as a shallow one.

    The story. By 2015 batch norm had largely solved vanishing and exploding
    gradients at initialization, yet deeper plain networks still ended with
    *higher training error* than shallower ones: not overfitting, but an
    optimization problem He et al. called degradation. A deeper network could
    copy the shallower one and set its extra layers to the identity, so a
    solver that cannot find even that is struggling. Their fix: let each block
    learn only a residual :math:`F(x)` and add it to an identity shortcut,
    :math:`y = x + F(x)`. The identity is then the easy default (:math:`F = 0`),
    and the gradient flows to early layers through the shortcuts unchanged.
    Networks of 152 layers trained well and won ILSVRC 2015; residual
    connections are now in nearly every deep architecture, Transformers
    included.

    Layers: ``conv1`` (7x7 stride 2), ``bn1``, ReLU, ``maxpool`` (3x3 stride 2),
    ``layer1`` ... ``layer4`` (stages of blocks with 64, 128, 256, 512 planes,
    the last three starting with stride 2), global average pool, ``fc``.

    Reference: K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for
    image recognition", CVPR 2016.

    Parameters
    ----------
    block : BasicBlock or Bottleneck (the class)
    layers : sequence of 4 int
        Blocks per stage: (2, 2, 2, 2) for ResNet-18, (3, 4, 6, 3) for ResNet-34 and -50.
    num_classes : int, default 1000
    in_channels : int, default 3
    width : float, default 1.0
        Scales the stem's 64 channels and the four stages' planes.

    Attributes
    ----------
    min_size : int
        1: padded convolutions and pooling never empty a feature map.

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """

    min_size = 1

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: Sequence[int], num_classes: int = 1000,
                 in_channels: int = 3, width: float = 1.0):
        super().__init__(num_classes, in_channels, width)
        if block not in (BasicBlock, Bottleneck):
            raise TypeError(f"block must be BasicBlock or Bottleneck, got {block!r}")
        if len(layers) != 4:
            raise ValueError(f"layers must give the blocks of 4 stages, got {layers!r}")
        stem = _scaled(64, self.width)
        self.conv1 = nn.Conv2d(self.in_channels, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        channels = stem
        for stage, (planes, n_blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
            planes = _scaled(planes, self.width)
            blocks = []
            for i in range(positive_int(n_blocks, "layers")):
                blocks.append(block(channels, planes, stride=2 if stage > 1 and i == 0 else 1))
                channels = planes * block.expansion
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(channels, self.num_classes)
        _init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``, of ``x``, shape ``(batch, in_channels, height, width)``."""
        self._check_input(x)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # stride 4
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # stride 32
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0) -> ResNet:
    """ResNet-18 (He et al., 2016): :class:`BasicBlock` blocks, (2, 2, 2, 2) per stage.

    Parameters
    ----------
    num_classes, in_channels, width
        See :class:`ResNet`.

    Returns
    -------
    ResNet
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``;
        11,689,512 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`ResNet`.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     sum(p.numel() for p in resnet18().parameters())
    11689512
    >>> resnet18(num_classes=10, in_channels=1, width=0.125)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels, width)


def resnet34(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0) -> ResNet:
    """ResNet-34 (He et al., 2016): :class:`BasicBlock` blocks, (3, 4, 6, 3) per stage.

    Parameters
    ----------
    num_classes, in_channels, width
        See :class:`ResNet`.

    Returns
    -------
    ResNet
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``;
        21,797,672 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`ResNet`.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     sum(p.numel() for p in resnet34().parameters())
    21797672
    >>> resnet34(num_classes=10, in_channels=1, width=0.125)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_channels, width)


def resnet50(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0) -> ResNet:
    """ResNet-50 (He et al., 2016): :class:`Bottleneck` blocks, (3, 4, 6, 3) per stage.

    Parameters
    ----------
    num_classes, in_channels, width
        See :class:`ResNet`.

    Returns
    -------
    ResNet
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``;
        25,557,032 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`ResNet`.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     sum(p.numel() for p in resnet50().parameters())
    25557032
    >>> resnet50(num_classes=10, in_channels=1, width=0.125)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels, width)


# --------------------------------------------------------------------------- DenseNet


class DenseLayer(nn.Module):
    r"""One layer of a dense block: batch norm, ReLU, 1x1 conv to ``bn_size * growth_rate``, BN, ReLU, 3x3 conv.

    It reads the concatenation of every earlier feature map of its block and
    adds ``growth_rate`` new channels (the "BC" bottleneck form of the paper:
    the 1x1 convolution keeps the 3x3 one cheap however many channels come in).
    Pre-activation order: normalization and ReLU come before each convolution.

    Parameters
    ----------
    in_channels : int
    growth_rate : int
        :math:`k`, the channels this layer adds.
    bn_size : int, default 4
        The bottleneck has ``bn_size * growth_rate`` channels.
    drop_rate : float, default 0.0
        Dropout on the new features, in training.
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The ``growth_rate`` new channels of ``x`` (all earlier features, concatenated): ``(batch, k, h, w)``."""
        new = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        if self.drop_rate > 0:
            new = F.dropout(new, p=self.drop_rate, training=self.training)
        return new


class DenseBlock(nn.ModuleDict):
    r"""A dense block: layer :math:`\ell` reads the concatenation :math:`[x_0, x_1, \ldots, x_{\ell-1}]`.

    With :math:`L` layers the block has :math:`L(L+1)/2` direct connections
    and returns ``in_channels + num_layers * growth_rate`` channels: its input
    and every layer's output, concatenated. Layers are ``denselayer1``,
    ``denselayer2``, ... (torchvision's keys).

    Parameters
    ----------
    num_layers, in_channels, growth_rate : int
    bn_size : int, default 4
    drop_rate : float, default 0.0
    """

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4,
                 drop_rate: float = 0.0):
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate)
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape ``(batch, out_channels, height, width)``: ``x`` and every layer's new features."""
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Transition(nn.Module):
    """Between dense blocks: batch norm, ReLU, 1x1 convolution (compression), 2x2 average pool.

    Parameters
    ----------
    in_channels, out_channels : int
        DenseNet-BC halves the channels here (compression 0.5).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape ``(batch, out_channels, height // 2, width // 2)``."""
        return self.pool(self.conv(self.relu(self.norm(x))))


class DenseNet(_Classifier):
    r"""DenseNet-BC: inside each block, every layer receives the feature maps of all the layers before it.

    The story. ResNet adds a layer's input to its output; Huang et al.
    concatenated instead, and connected every layer of a block to every later
    one. A layer's features are then reused by everything after it, so each
    layer can be narrow, adding only :math:`k` (the growth rate, 32) channels
    to the block's "collective knowledge"; gradients reach early layers along
    short paths; and the network needs far fewer parameters: DenseNet-121 has
    8.0 million against ResNet-50's 25.6 million, and the paper matches the
    ImageNet accuracy of ResNets with about half their parameters.
    The price is memory: the concatenations keep many feature maps alive.

    Layers: ``features`` = ``conv0`` (7x7 stride 2), ``norm0``, ``relu0``,
    ``pool0`` (3x3 stride 2), then ``denseblock1`` ... ``denseblock4`` with
    ``transition1`` ... ``transition3`` between them, ``norm5``; then ReLU, global
    average pool, ``classifier``.

    Reference: G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger, "Densely
    connected convolutional networks", CVPR 2017.

    Parameters
    ----------
    growth_rate : int, default 32
    block_config : sequence of int, default (6, 12, 24, 16)
        Layers per dense block (DenseNet-121).
    num_init_features : int, default 64
    bn_size : int, default 4
    drop_rate : float, default 0.0
    num_classes : int, default 1000
    in_channels : int, default 3
    width : float, default 1.0
        Scales ``num_init_features`` and ``growth_rate`` (and with them every channel count).

    Attributes
    ----------
    min_size : int
        29: three 2x2 average pools after a stride-4 stem.

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """

    min_size = 29

    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0, num_classes: int = 1000,
                 in_channels: int = 3, width: float = 1.0):
        super().__init__(num_classes, in_channels, width)
        growth = _scaled(positive_int(growth_rate, "growth_rate"), self.width)
        channels = _scaled(positive_int(num_init_features, "num_init_features"), self.width)
        drop_rate = _probability(drop_rate, "drop_rate")
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(self.in_channels, channels, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(channels)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        for i, num_layers in enumerate(block_config, start=1):
            block = DenseBlock(positive_int(num_layers, "block_config"), channels, growth,
                               positive_int(bn_size, "bn_size"), drop_rate)
            self.features.add_module(f"denseblock{i}", block)
            channels = block.out_channels
            if i < len(block_config):
                self.features.add_module(f"transition{i}", Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, self.num_classes)
        _init_conv_bn(self, conv_mode="fan_in")
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``, of ``x``, shape ``(batch, in_channels, height, width)``."""
        self._check_input(x)
        x = F.relu(self.features(x), inplace=True)  # (batch, 1024 width, h / 32, w / 32)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


def densenet121(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *,
                drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-121 (Huang et al., 2017): growth rate 32, blocks of 6, 12, 24, 16 layers; see :class:`DenseNet`.

    Parameters
    ----------
    num_classes : int, default 1000
    in_channels : int, default 3
    width : float, default 1.0
        Multiplier of the initial 64 features and of the growth rate.
    drop_rate : float, default 0.0

    Returns
    -------
    DenseNet
        Maps ``(batch, in_channels, height, width)`` to ``(batch, num_classes)``,
        height and width at least 29; 7,978,856 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        ``num_classes`` or ``in_channels`` below 1, ``width`` not positive, ``drop_rate`` outside [0, 1).

    Examples
    --------
    >>> with torch.device("meta"):
    ...     sum(p.numel() for p in densenet121().parameters())
    7978856
    >>> net = densenet121(num_classes=10, in_channels=1, width=0.125)
    >>> net(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return DenseNet(32, (6, 12, 24, 16), 64, 4, drop_rate, num_classes, in_channels, width)


# --------------------------------------------------------------------------- SqueezeNet


class Fire(nn.Module):
    """SqueezeNet's Fire module: a 1x1 "squeeze" to few channels, then 1x1 and 3x3 "expand" side by side.

    Output: the two expansions (each after a ReLU) concatenated,
    ``expand1x1_planes + expand3x3_planes`` channels. Few channels enter the
    3x3 convolution, and half the expansion uses 1x1 kernels, nine times
    cheaper: the module's whole economy.

    Parameters
    ----------
    in_channels, squeeze_planes, expand1x1_planes, expand3x3_planes : int
    """

    def __init__(self, in_channels: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)
        self.out_channels = expand1x1_planes + expand3x3_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape ``(batch, out_channels, height, width)``."""
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


# Per version: the stem (channels, kernel), then Fire modules as (squeeze, expand) and "M" for a 3x3/2 max-pool.
SQUEEZENET_CONFIGS: dict[str, tuple] = {
    "1_0": ((96, 7), "M", (16, 64), (16, 64), (32, 128), "M", (32, 128), (48, 192), (48, 192), (64, 256), "M",
            (64, 256)),
    "1_1": ((64, 3), "M", (16, 64), (16, 64), "M", (32, 128), (32, 128), "M", (48, 192), (48, 192), (64, 256),
            (64, 256)),
}


class SqueezeNet(_Classifier):
    """SqueezeNet: AlexNet's ImageNet accuracy with 50 times fewer parameters.

    The story. Iandola et al. asked how small a network can be without losing
    accuracy: small models train faster when distributed, update over the air
    more cheaply and fit on embedded chips. Three rules: use 1x1 kernels
    instead of 3x3 where possible (nine times fewer parameters), feed the 3x3
    kernels few channels (the "squeeze" of the :class:`Fire` module), and
    downsample late so that the convolutions see large feature maps. And no
    fully connected layers: a final 1x1 convolution gives one map per class and
    a global average pool turns each map into a score. Result: 1.25 million
    parameters against AlexNet's 61 million, same top-5 accuracy. Version 1.1
    (a smaller 3x3 stem, earlier pooling) needs 2.4 times less computation.

    Layers: ``features`` (a stem convolution with ReLU, then Fire modules and
    3x3 stride-2 max-pools, ``SQUEEZENET_CONFIGS[version]``), ``classifier``
    (dropout, ``final_conv`` 1x1 to ``num_classes``, ReLU, global average pool).

    Reference: F. N. Iandola, S. Han, M. W. Moskewicz, K. Ashraf, W. J. Dally,
    K. Keutzer, "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters
    and <0.5MB model size", arXiv:1602.07360, 2016.

    Parameters
    ----------
    version : {"1_0", "1_1"}, default "1_0"
    num_classes, in_channels, width, dropout
        As :class:`AlexNet`.

    Attributes
    ----------
    min_size : int
        21 (version 1.0) or 17 (1.1).

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """

    def __init__(self, version: str = "1_0", num_classes: int = 1000, in_channels: int = 3, width: float = 1.0,
                 dropout: float = 0.5):
        super().__init__(num_classes, in_channels, width)
        if version not in SQUEEZENET_CONFIGS:
            raise ValueError(f"version must be one of {sorted(SQUEEZENET_CONFIGS)}, got {version!r}")
        dropout = _probability(dropout, "dropout")
        self.version = version
        self.min_size = {"1_0": 21, "1_1": 17}[version]
        c = lambda n: _scaled(n, self.width)  # noqa: E731
        (stem, kernel), *rest = SQUEEZENET_CONFIGS[version]
        layers: list[nn.Module] = [nn.Conv2d(self.in_channels, c(stem), kernel_size=kernel, stride=2),
                                   nn.ReLU(inplace=True)]
        channels = c(stem)
        for item in rest:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
            else:
                layers.append(Fire(channels, c(item[0]), c(item[1]), c(item[1])))
                channels = layers[-1].out_channels
        self.features = nn.Sequential(*layers)
        final_conv = nn.Conv2d(channels, self.num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``, of ``x``, shape ``(batch, in_channels, height, width)``."""
        self._check_input(x)
        return torch.flatten(self.classifier(self.features(x)), 1)


def squeezenet1_0(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *,
                  dropout: float = 0.5) -> SqueezeNet:
    """SqueezeNet 1.0 (Iandola et al., 2016).

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`SqueezeNet`.

    Returns
    -------
    SqueezeNet
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 21;
        1,248,424 parameters at the ImageNet configuration.

    Raises
    ------
    ValueError
        See :class:`SqueezeNet`.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     sum(p.numel() for p in squeezenet1_0().parameters())
    1248424
    >>> squeezenet1_0(num_classes=10, in_channels=1, width=0.25)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return SqueezeNet("1_0", num_classes, in_channels, width, dropout)


def squeezenet1_1(num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, *,
                  dropout: float = 0.5) -> SqueezeNet:
    """SqueezeNet 1.1 (Iandola et al., 2016).

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`SqueezeNet`.

    Returns
    -------
    SqueezeNet
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at
        least 17; 1,235,496 parameters at the ImageNet configuration, 2.4 times less computation than 1.0.

    Raises
    ------
    ValueError
        See :class:`SqueezeNet`.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     sum(p.numel() for p in squeezenet1_1().parameters())
    1235496
    >>> squeezenet1_1(num_classes=10, in_channels=1, width=0.25)(torch.zeros(2, 1, 64, 101)).shape
    torch.Size([2, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return SqueezeNet("1_1", num_classes, in_channels, width, dropout)


# --------------------------------------------------------------------------- audio: a baseline, waveforms in


class BaselineCNN(_Classifier):
    """A small CNN for spectrograms: four conv-BN-ReLU-pool blocks, global average pooling, one linear layer.

    The yardstick the classics are measured against on spoken digits: nothing
    borrowed from ImageNet, just what a first audio CNN would be. Each block
    is a 3x3 convolution (padding 1, no bias: the batch norm that follows
    has its own shift), a batch norm, ReLU and a 2x2 max-pool that halves
    both axes; a global average pool over what is left of frequency and
    time turns the last feature map into one vector, and a linear layer into
    the logits. Its channel counts, ``channels`` times ``width``, double from
    block to block while the map shrinks by four.

    Parameters
    ----------
    num_classes : int, default 10
    in_channels : int, default 1
    width : float, default 1.0
        Multiplies every count of ``channels``: :math:`\\max(1, \\operatorname{round}(w\\,n))`.
    channels : sequence of int, default (32, 64, 128, 256)
        Output channels of the blocks, one block per entry.
    dropout : float, default 0.0
        Before the linear layer.

    Attributes
    ----------
    min_size : int
        :math:`2^{\\text{blocks}}` (16 for four blocks): each pool halves the map.

    Examples
    --------
    >>> net = BaselineCNN(width=0.5)
    >>> net(torch.zeros(2, 1, 40, 101)).shape
    torch.Size([2, 10])
    >>> [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
    [16, 32, 64, 128]

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: float = 1.0,
                 channels: Sequence[int] = (32, 64, 128, 256), dropout: float = 0.0):
        super().__init__(num_classes, in_channels, width)
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or not channels:
            raise TypeError(f"channels must be a non-empty sequence of ints, got {channels!r}")
        counts = [_scaled(positive_int(n, "channels"), self.width) for n in channels]
        dropout = _probability(dropout, "dropout")
        self.min_size = 2 ** len(counts)
        layers: list[nn.Module] = []
        previous = self.in_channels
        for n in counts:
            layers += [nn.Conv2d(previous, n, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(n),
                       nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=2)]
            previous = n
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(previous, self.num_classes))
        _init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``, of ``x``, shape ``(batch, in_channels, height, width)``."""
        self._check_input(x)
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def baseline_cnn(num_classes: int = 10, in_channels: int = 1, width: float = 1.0, *,
                 dropout: float = 0.0) -> BaselineCNN:
    """The baseline CNN of the chapter: four blocks of 32, 64, 128, 256 channels (times ``width``).

    Parameters are counted by hand: block :math:`i` has :math:`9\\, C_{i-1} C_i`
    kernel weights and :math:`2 C_i` batch-norm weights (scale and shift), the
    linear layer :math:`(C_4 + 1) \\times` ``num_classes``.

    Parameters
    ----------
    num_classes, in_channels, width, dropout
        See :class:`BaselineCNN`.

    Returns
    -------
    BaselineCNN
        ``(batch, in_channels, height, width)`` -> ``(batch, num_classes)``, height and width at least 16;
        390,890 parameters at the default configuration (one input channel, ten classes).

    Raises
    ------
    ValueError
        If an option is out of range (see :class:`BaselineCNN`).

    Examples
    --------
    >>> sum(p.numel() for p in baseline_cnn().parameters())
    390890
    >>> baseline_cnn(width=0.25)(torch.zeros(3, 1, 40, 101)).shape
    torch.Size([3, 10])

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """
    return BaselineCNN(num_classes, in_channels, width, dropout=dropout)


class SpectrogramClassifier(nn.Module):
    r"""Waveforms in, logits out: a front end, SpecAugment in training, a fixed scaling, and a CNN.

    For a batch of waveforms :math:`y` of equal length,

    .. math::
        S = \operatorname{frontend}(y), \qquad
        \tilde S = \operatorname{augment}(S) \ \text{(training mode only)}, \qquad
        X = \frac{\tilde S - a}{b}, \qquad
        z = \operatorname{body}\big(\operatorname{repeat}(X)\big)

    with :math:`S` a log-mel spectrogram in dB, ``(batch, n_mels, n_frames)``
    (:class:`lessons_lib.models.frontend.LogMel`), the fixed affine map
    :math:`(a, b)` = ``(offset, scale)`` (the defaults, :math:`a = -60` and
    :math:`b = 20` dB, are about the mean and standard deviation of FSDD's
    ``LogMel(ref="max", top_db=80)`` values, which lie in :math:`[-80, 0]` dB),
    and ``repeat`` = :math:`(r_f, r_t)`, each mel band
    repeated :math:`r_f` times and each frame :math:`r_t` times
    (``repeat_interleave``; ``(1, 1)`` changes nothing): an image taller than
    the 40 bands, for a body whose strides need one (AlexNet needs 63 rows).
    The image gets one channel, ``(batch, 1, r_f F, r_t T)``, as the bodies'
    first convolution expects.

    The augmentation is a layer of the model (e.g.
    :class:`lessons_lib.augment.SpecAugment`): it runs in training mode only and
    draws from torch's default random state, which
    :func:`lessons_lib.train.fit` seeds and checkpoints, so training stays
    reproducible and resumable. In eval mode the model is a deterministic
    function of the waveforms: what :func:`lessons_lib.train.predict` and the
    evaluation see.

    Parameters
    ----------
    frontend : nn.Module
        Waveforms ``(batch, n_samples)`` -> spectrograms ``(batch, F, T)``.
    body : nn.Module
        Images ``(batch, 1, r_f F, r_t T)`` -> logits ``(batch, num_classes)``.
    augment : nn.Module, optional
        Spectrograms -> spectrograms of the same shape; the identity in eval mode.
    offset, scale : float, default -60.0, 20.0
        :math:`a` and :math:`b > 0`.
    repeat : (int, int), default (1, 1)
        :math:`(r_f, r_t)`, each >= 1.

    Raises
    ------
    TypeError
        If ``frontend``, ``body`` or ``augment`` is not an ``nn.Module``.
    ValueError
        If ``scale`` is not positive or ``repeat`` is not two positive ints.

    Examples
    --------
    >>> from lessons_lib.models.frontend import LogMel
    >>> net = SpectrogramClassifier(LogMel(sr=8000, n_fft=256, hop_length=80, n_mels=40),
    ...                             baseline_cnn(width=0.25), repeat=(2, 1))
    >>> y = torch.randn(3, 8000, generator=torch.Generator().manual_seed(0))
    >>> net.features(y).shape, net.image(net.features(y)).shape, net(y).shape
    (torch.Size([3, 40, 101]), torch.Size([3, 1, 80, 101]), torch.Size([3, 10]))

    Chapter: ``notebooks/06b_cnn_classifiers.ipynb``.
    """

    def __init__(self, frontend: nn.Module, body: nn.Module, *, augment: nn.Module | None = None,
                 offset: float = -60.0, scale: float = 20.0, repeat: Sequence[int] = (1, 1)):
        super().__init__()
        for name, module in (("frontend", frontend), ("body", body), ("augment", augment)):
            if not (isinstance(module, nn.Module) or (name == "augment" and module is None)):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
        self.frontend = frontend
        self.augment = augment
        self.body = body
        self.offset = real_number(offset, "offset")
        self.scale = real_number(scale, "scale")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        if (isinstance(repeat, (str, bytes)) or not isinstance(repeat, Sequence) or len(repeat) != 2
                or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in repeat)):
            raise ValueError(f"repeat must be two positive ints (mel bands, frames), got {repeat!r}")
        self.repeat = (int(repeat[0]), int(repeat[1]))

    def extra_repr(self) -> str:
        return f"offset={self.offset}, scale={self.scale}, repeat={self.repeat}"

    def features(self, y: torch.Tensor) -> torch.Tensor:
        """The scaled spectrogram :math:`X`, shape ``(batch, F, T)``, augmented in training mode.

        Raises
        ------
        TypeError, ValueError
            If ``y`` is not a floating tensor of shape ``(batch, n_samples)``.
        """
        if not isinstance(y, torch.Tensor) or not y.is_floating_point():
            raise TypeError(f"y must be a floating-point torch.Tensor of waveforms, shape (batch, n_samples), "
                            f"got {type(y).__name__}{'' if not isinstance(y, torch.Tensor) else ' ' + str(y.dtype)}")
        if y.ndim != 2:
            raise ValueError(f"y must have shape (batch, n_samples), got {tuple(y.shape)}")
        S = self.frontend(y)
        if self.augment is not None:
            S = self.augment(S)
        return (S - self.offset) / self.scale

    def image(self, X: torch.Tensor) -> torch.Tensor:
        """The body's input: ``X`` with each band and frame repeated, one channel, ``(batch, 1, r_f F, r_t T)``."""
        r_f, r_t = self.repeat
        if r_f > 1:
            X = X.repeat_interleave(r_f, dim=1)
        if r_t > 1:
            X = X.repeat_interleave(r_t, dim=2)
        return X.unsqueeze(1)

    def classify(self, X: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` of scaled spectrograms ``X``, ``(batch, F, T)`` (for saliency maps)."""
        return self.body(self.image(X))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(batch, num_classes)``, of waveforms ``y``, shape ``(batch, n_samples)``."""
        return self.classify(self.features(y))


# --------------------------------------------------------------------------- FLOPs


def _macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """Multiply-adds of one call of a convolution or linear layer; 0 for every other module."""
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        # Every input value is multiplied into a kernel of every output channel of its group.
        return inputs[0].numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    return 0


def count_flops(model: nn.Module, x: torch.Tensor | Sequence[int]) -> int:
    r"""Multiply-adds of the convolutions and linear layers in one forward pass: torchvision's "GFLOPS".

    Each output value of a convolution costs one multiply-add per kernel weight
    that reaches it, each output of a linear layer one per input:

    .. math::

        \text{MACs} = \sum_{\text{conv}} |y| \, \frac{C_\text{in}}{g} \prod_i k_i
        + \sum_{\text{linear}} |y| \, d_\text{in},

    with :math:`|y|` the number of values of the layer's output (batch
    included), :math:`g` its groups and :math:`k_i` its kernel size (for a
    transposed convolution, :math:`|x| \, C_\text{out} / g \prod_i k_i`). Bias
    additions, normalizations, activations, poolings and residual additions
    count nothing, and so do matrix products outside a layer's ``forward``
    (attention scores, ``F.linear`` called directly). This is the convention
    of the "GFLOPS" column of torchvision's model tables (each multiply-add
    counted once, batch 1, 224 x 224): ResNet-18 1.814, AlexNet 0.714,
    SqueezeNet 1.1 0.349. Layers are counted each time they run, through
    forward hooks, so shared layers, Python control flow and the input's size
    are all taken into account.

    The pass runs in evaluation mode without gradients (GoogLeNet's auxiliary
    heads, used in training only, count nothing; batch norm statistics are
    untouched); every module's mode is restored and the hooks removed.
    A model on the ``"meta"`` device is counted without computing anything.

    Parameters
    ----------
    model : nn.Module
    x : Tensor, or sequence of int
        The input, or its shape: a zero tensor of that shape is made on the
        device and in the dtype of the model's first parameter.

    Returns
    -------
    int
        Multiply-adds for the whole input (for ``x`` of batch :math:`B`, :math:`B`
        times those of one example).

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module``, or ``x`` neither a tensor nor a shape.

    Examples
    --------
    >>> count_flops(torch.nn.Conv2d(1, 4, kernel_size=3), (1, 1, 10, 10))  # 8 x 8 x 4 outputs, 9 each
    2304
    >>> with torch.device("meta"):
    ...     net = resnet18()
    >>> count_flops(net, (1, 3, 224, 224)) / 1e9
    1.814073344
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        if not (isinstance(x, Sequence) and x and all(isinstance(n, int) and n > 0 for n in x)):
            raise TypeError(f"x must be a tensor or a shape (a sequence of positive ints), got {x!r}")
        first = next(model.parameters(), None)
        x = torch.zeros(tuple(x), dtype=first.dtype if first is not None else None,
                        device=first.device if first is not None else None)
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += _macs(module, inputs, output)

    modes = [(m, m.training) for m in model.modules()]
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        for m, training in modes:
            m.training = training
    return total


# --------------------------------------------------------------------------- torchvision as the reference

_MISSING_OPERATOR = re.compile(r"operator torchvision::\w+ does not exist")


def _forget_torchvision() -> None:
    """Drop ``torchvision`` and every ``torchvision.*`` entry from ``sys.modules``."""
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]


def _models_without_operators() -> types.ModuleType:
    """Import ``torchvision.models`` under a bare ``torchvision`` package whose ``__init__`` never runs."""
    # The failed import left torchvision's first submodules (extension, ...) behind without their package.
    _forget_torchvision()
    spec = importlib.util.find_spec("torchvision")  # finds the folder; does not execute torchvision/__init__.py
    package = types.ModuleType("torchvision", "torchvision's Python code without its compiled operators, "
                               "made by lessons_lib.models.cnn.torchvision_models().")
    package.__spec__ = importlib.machinery.ModuleSpec("torchvision", None, is_package=True)
    package.__spec__.submodule_search_locations = package.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = package
    try:
        models = importlib.import_module("torchvision.models")
        package.__version__ = importlib.import_module("torchvision.version").__version__
    except BaseException:
        _forget_torchvision()
        raise
    return models


def torchvision_models() -> types.ModuleType:
    """torchvision's ``torchvision.models``, the reference of this module, even where its compiled operators fail.

    A plain ``import torchvision.models`` comes first: with a torch and a
    torchvision built for each other (Colab's CUDA builds, or matching CPU
    wheels) that is all, and the ordinary package is returned.

    torchvision 0.28's wheel from PyPI is built against CUDA; beside the CPU
    build of torch its compiled operators (``nms``, ``roi_align``, ...) fail to
    register and ``import torchvision`` stops with ``RuntimeError: operator
    torchvision::nms does not exist``. Its model definitions are plain Python
    on ``torch.nn`` and need none of those operators, so in exactly that case
    (the message is checked; any other error propagates) this function:

    1. removes the failed import's leftovers, every ``torchvision`` and
       ``torchvision.*`` entry of ``sys.modules`` (the package itself is not
       there: only orphaned submodules such as ``torchvision.extension``);
    2. puts a bare package module in ``sys.modules["torchvision"]``, whose
       ``__path__`` is the installed package folder (found with
       ``importlib.util.find_spec``, which does not execute the package's
       ``__init__.py``), so the operator registrations never run;
    3. imports ``torchvision.models`` from it and sets ``torchvision.__version__``.

    What that leaves in the process: ``sys.modules["torchvision"]`` is the bare
    package (a later ``import torchvision`` anywhere returns it), beside the
    modules the model code imports (about 90: ``torchvision.models.*``,
    ``torchvision.ops.*``, ``torchvision.transforms.*``, ``torchvision.utils``,
    ``torchvision.extension``, ...), as any torchvision import would. Nothing
    is registered with torch's operators and no global setting changes.
    Calling an operator that
    needs the compiled library (``torchvision.ops.nms``) raises torchvision's
    own "Couldn't load custom C++ ops" error. Calling this function again
    returns the same module.

    Returns
    -------
    module
        ``torchvision.models``: ``resnet18``, ``vgg16_bn``, ... and the
        ``*_Weights`` enums with their published metadata.

    Raises
    ------
    ImportError
        torchvision is not installed.

    Examples
    --------
    >>> tv = torchvision_models()
    >>> with torch.device("meta"):
    ...     sum(p.numel() for p in tv.resnet18().parameters())
    11689512
    >>> tv.ResNet18_Weights.IMAGENET1K_V1.meta["_ops"]  # the published GFLOPS
    1.814
    """
    try:
        import torchvision.models as models
    except ModuleNotFoundError as err:
        if err.name != "torchvision":
            raise
        raise ImportError("torchvision is not installed; it is the reference of Chapter 6's CNNs: "
                          "pip install torchvision (the release made for your torch: 0.28 for torch 2.13)") from err
    except RuntimeError as err:
        if not _MISSING_OPERATOR.search(str(err)):
            raise
        return _models_without_operators()
    return models
