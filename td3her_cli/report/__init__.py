"""What a run shows: plots, GIFs, the console display, ONNX export."""
