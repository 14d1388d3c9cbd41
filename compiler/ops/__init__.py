"""The op families: one module per family declares everything the compiler knows about its ops
(see `compiler.opdef`): the attributes class, the Keras layer handlers, the parameters with their
roles, trainability and DML layout, the shape rule, the op template's context and the dml_lib
modules it calls. Importing this package registers them all.

Adding an op: CONTRIBUTING.md, "Adding a Keras layer".
"""
from __future__ import annotations

from . import inputs, dense, activations, reshaping, conv, conv_transpose, pooling, spatial  # noqa: I001
from . import normalization, recurrent, merge
from . import scaling, cropping, reordering, noise, augmentation, bidirectional, attention
from . import keras_ops, dot, statistics, steps_image, indexing, masking, time_distributed
from . import volumes, conv_lstm, preprocessing
from . import adaptive_pooling, spectral_normalization
from .activations import ACTIVATION_KINDS, Activation
from .conv import Conv1D, Conv2D, DepthwiseConv2D
from .conv_transpose import Conv2DTranspose
from .dense import Dense, Embedding
from .inputs import Input
from .merge import Concatenate, Merge
from .normalization import BatchNorm, LayerNorm
from .pooling import GlobalPool, Pool1D, Pool2D
from .recurrent import Recurrent
from .reshaping import Dropout, Flatten, Reshape
from .spatial import UpSample1D, UpSample2D, ZeroPad1D, ZeroPad2D

FAMILIES = (inputs, dense, activations, reshaping, conv, conv_transpose, pooling, spatial,
            normalization, recurrent, merge, scaling, cropping, reordering, noise, augmentation,
            bidirectional, attention, keras_ops, dot, statistics, steps_image, indexing, masking,
            time_distributed, volumes, conv_lstm, preprocessing, adaptive_pooling,
            spectral_normalization)

__all__ = ["ACTIVATION_KINDS", "Activation", "BatchNorm", "Concatenate", "Conv1D", "Conv2D",
           "Conv2DTranspose", "Dense", "DepthwiseConv2D", "Dropout", "Embedding", "FAMILIES",
           "Flatten", "GlobalPool", "Input", "LayerNorm", "Merge", "Pool1D", "Pool2D",
           "Recurrent", "Reshape", "UpSample1D", "UpSample2D", "ZeroPad1D", "ZeroPad2D"]
