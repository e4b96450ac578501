"""Layer shapes of the encoders, torch-free: the models are built to them and the cost model
counts their FLOPs (tests/unit/images/test_images_cost.py checks the count against torch's FLOP
counter).

A layer is (kind, inputs, outputs, kernel, positions): a convolution with ``kernel`` x ``kernel``
filters evaluated at ``positions`` output pixels, or a linear layer (kernel 1, positions 1). A
multiply-add counts as 2 FLOPs, as torch.utils.flop_counter counts; BatchNorm, ReLU and pooling
are not counted (well under 1 % of a convolution's work).
"""

CNN_POOL_AFTER = 1  # the small CNN max-pools after its second convolution


def feature_dim(arch: str, width: int) -> int:
    return {"resnet18": 8 * width, "cnn": 2 * width}[arch]


def encoder_layers(arch: str, width: int, channels: int, size: int) -> list[tuple]:
    if arch == "resnet18":
        layers, in_channels, side = [("conv", channels, width, 3, size * size)], width, size
        for multiple, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
            out = width * multiple
            for block_stride in (stride, 1):
                side_out = side // block_stride
                layers.append(("conv", in_channels, out, 3, side_out * side_out))
                layers.append(("conv", out, out, 3, side_out * side_out))
                if block_stride != 1 or in_channels != out:
                    layers.append(("conv", in_channels, out, 1, side_out * side_out))
                in_channels, side = out, side_out
        return layers
    if arch == "cnn":
        layers, in_channels, side = [], channels, size
        for index, out in enumerate((width, width, 2 * width, 2 * width)):
            layers.append(("conv", in_channels, out, 3, side * side))
            if index == CNN_POOL_AFTER:
                side //= 2
            in_channels = out
        return layers
    raise ValueError(f"unknown architecture {arch!r}")


def flops(layers: list[tuple]) -> int:
    """Forward FLOPs of one image through ``layers``."""
    return sum(2 * inputs * outputs * kernel * kernel * positions
               for _, inputs, outputs, kernel, positions in layers)


def linear(inputs: int, outputs: int) -> tuple:
    return ("linear", inputs, outputs, 1, 1)
