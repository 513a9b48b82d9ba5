"""TensorFlow twin: Keras layers with tf.function training and predict steps (graph mode)."""
import os

# Quiet TensorFlow's C++ start-up chatter; a user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
