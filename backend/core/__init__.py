"""The model core: data windows, models, training steps and views inside the cell."""
