"""`wood finetune anomaly`: PatchCore and PaDiM, learnt from good images only."""
