"""PyTorch twin: nn.Module + torch.optim.Adam, eager execution, CPU and CUDA."""
