"""`wood finetune classify` in one import: the config, training and the run-folder evaluation.

    from wood.finetune.classify import ClassifyConfig, train
    run_dir = train(ClassifyConfig(data="prep_out", arch="resnet18", strategy="transfer"))
"""

from wood.finetune.classify_config import ClassifyConfig
from wood.finetune.classify_train import load_run_model, plan_phases, train

__all__ = ["ClassifyConfig", "train", "plan_phases", "load_run_model"]
