"""A model rewritten: every k×k convolution as depthwise + pointwise, or such pairs back (convert.py)."""
