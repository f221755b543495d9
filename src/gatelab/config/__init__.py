"""Reading a composed config: where a run may write, its record, study planning, checks (OmegaConf, Hydra)."""
