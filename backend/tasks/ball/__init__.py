"""The bouncing ball: a thrown ball filmed frame by frame; the model predicts its next position."""
