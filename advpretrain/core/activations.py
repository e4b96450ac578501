"""The hidden activations' names, torch-free so that the workflow's params builders read them:
``model.networks.ACTIVATIONS`` holds one function per name."""

# Thresholded activations compare the pre-activation with a threshold e and are piecewise linear:
# exact verification and the threshold options apply to them only.
THRESHOLDED = ("gate", "relu", "symmetric_relu")
# Smooth activations ignore e; their own gradient serves the attacks (no surrogate).
SMOOTH_ACTIVATIONS = ("tanh", "softplus")
ACTIVATION_NAMES = (*THRESHOLDED, *SMOOTH_ACTIVATIONS)
