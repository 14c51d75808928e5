"""hwlib: small, tested reference implementations behind the course companion book.

One module per topic; each chapter of the book imports what it needs:

    networks     ReLUNetwork and helpers (seed 000 Q1-Q7)
    regions      exact linear pieces, kinks, the sawtooth, identified regions (000 Q4-Q5, 004 §3)
    gates        logic with ReLU networks and threshold units (000 Q7, 004 §2)
    backprop     the residual ReLU block's gradient by hand (000 Q8)
    nn           modules with hand-written backward passes, SGD (000 Q10)
    data         CIFAR-10 loading, random crops, label noise (000 Q12-Q15, 004 §5)
    train        device-resident training loop and learning curves (000 Q11-Q15)
    models       a small CIFAR-10 CNN, trained and cached (004 §6)
    attribution  saliency, guided backprop, Grad-CAM, fooling images, class visualisation (004 §6)
    conv         convolution and transposed convolution as matrices (004 §1)
    display      LaTeX rendering of matrices
    plots        plotting helpers
"""

__version__ = "0.1.0"
