"""The separable-convolution study: the MobileNet paper's tables, standard ↔ separable conversion,
side-by-side comparison of models, and sweeps of points."""
