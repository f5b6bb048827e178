"""The core's own plugin (entry point ``core``): baselines and basic components.

Registration uses lazy references so that listing plugins never imports torch.
"""

from edg.plugins.hookspecs import hookimpl


@hookimpl
def register_decoders(register):
    register("transformer", "edg.baseline.transformer_decoder:TransformerDecoder")


@hookimpl
def register_loss_terms(register):
    register("nll", "edg.baseline.nll_loss:NllLoss")
    register("emotion", "edg.baseline.emotion_loss:EmotionLoss")


@hookimpl
def register_emotion_modules(register):
    register("pooled", "edg.baseline.pooled_emotion_classifier:PooledEmotionClassifier")


@hookimpl
def register_schedules(register):
    register("constant", "edg.training.schedules:ConstantSchedule")
    register("linear", "edg.training.schedules:LinearSchedule")
    register("noam", "edg.training.schedules:NoamSchedule")
    register("step", "edg.training.schedules:StepDecaySchedule")


@hookimpl
def register_systems(register):
    register("transformer", "edg.baseline.transformer_system:TransformerSystem")
    register("multi-trs", "edg.baseline.multi_trs_system:MultiTrsSystem")


@hookimpl
def register_published_results(register):
    # the papers' rows of the core's own baselines (each plugin registers its paper's tables)
    register("core", "edg.reporting.published:PUBLISHED")
