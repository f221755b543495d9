"""The lab's training script as the notes write it (plain PyTorch, one process per run): the
baseline gatelab is measured against. Not part of gatelab.

    python bench/lab_script.py mlp2 xor      # 10001 full-batch SGD steps, loss printed every 100
"""

import sys

import torch

TARGETS = {
    "and": [[0], [0], [0], [1]],
    "or": [[0], [1], [1], [1]],
    "nand": [[1], [1], [1], [0]],
    "nor": [[1], [0], [0], [0]],
    "xor": [[0], [1], [1], [0]],
    "xnor": [[1], [0], [0], [1]],
}

model_name, gate = sys.argv[1], sys.argv[2]
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(777)
if device == "cuda":
    torch.cuda.manual_seed_all(777)

X = torch.FloatTensor([[0, 0], [0, 1], [1, 0], [1, 1]]).to(device)
Y = torch.FloatTensor(TARGETS[gate]).to(device)

if model_name == "manual":  # the notes' hand-written backprop (2-2-1), with their update rule
    w1, b1 = torch.Tensor(2, 2).to(device), torch.Tensor(2).to(device)
    w2, b2 = torch.Tensor(2, 1).to(device), torch.Tensor(1).to(device)
    for w in (w1, b1, w2, b2):
        torch.nn.init.normal_(w)

    def sigmoid(x):
        return 1.0 / (1.0 + torch.exp(-x))

    def sigmoid_prime(x):
        return sigmoid(x) * (1 - sigmoid(x))

    learning_rate = 1
    for step in range(10001):
        l1 = torch.add(torch.matmul(X, w1), b1)
        a1 = sigmoid(l1)
        l2 = torch.add(torch.matmul(a1, w2), b2)
        Y_pred = sigmoid(l2)
        cost = -torch.mean(Y * torch.log(Y_pred) + (1 - Y) * torch.log(1 - Y_pred))
        d_Y_pred = (Y_pred - Y) / (Y_pred * (1.0 - Y_pred) + 1e-7)
        d_l2 = d_Y_pred * sigmoid_prime(l2)
        d_b2 = d_l2
        d_w2 = torch.matmul(torch.transpose(a1, 0, 1), d_b2)
        d_a1 = torch.matmul(d_b2, torch.transpose(w2, 0, 1))
        d_l1 = d_a1 * sigmoid_prime(l1)
        d_b1 = d_l1
        d_w1 = torch.matmul(torch.transpose(X, 0, 1), d_b1)
        w1 = w1 - learning_rate * d_w1
        b1 = b1 - learning_rate * torch.mean(d_b1, 0)
        w2 = w2 - learning_rate * d_w2
        b2 = b2 - learning_rate * torch.mean(d_b2, 0)
        if step % 100 == 0:
            print(step, cost.item())
else:
    hidden = {"perceptron": [], "mlp2": [2], "mlp4": [10, 10, 10]}[model_name]
    sizes = [2, *hidden, 1]
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out, bias=True), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers).to(device)
    criterion = torch.nn.BCELoss().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1)
    for step in range(10001):
        optimizer.zero_grad()
        hypothesis = model(X)
        cost = criterion(hypothesis, Y)
        cost.backward()
        optimizer.step()
        if step % 100 == 0:
            print(step, cost.item())
