"""Random-weight stand-ins for latent-reasoning checkpoints, saved in their authors' own layouts.

A CODI checkpoint (github.com/zhenyi4/CODI) is its training module's state dict: the base model
resized by three ids (pad, bot, eot) and wrapped by peft's LoRA under ``codi.``, the projection
under ``prj.``; the base model is loaded separately by its id. Here the base is a tiny Llama or
GPT-2 with a byte-level BPE tokenizer trained in the test, and the adapters are random (not zero),
so a loader that skipped them would compute something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TEXTS = ["Janet has 3 apples and buys 4 more. How many apples does she have?", "The answer is: 7",
         "A train goes 60 miles in 2 hours. What is its speed?", "The answer is: 30",
         "Tom had 12 marbles and lost 5. How many are left?", "The answer is: 7 marbles"]
LORA_TARGETS = {"llama": ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "gate_proj"],
                "gpt2": ["c_attn", "c_proj", "c_fc"]}


def byte_level_tokenizer(eos: str = "<|endoftext|>"):
    import transformers as tf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(TEXTS * 10, trainers.BpeTrainer(vocab_size=300, special_tokens=[eos],
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tf.PreTrainedTokenizerFast(tokenizer_object=raw, eos_token=eos, bos_token=eos)


def base_model(family: str, vocab_size: int, eos_id: int, seed: int = 0):
    import torch
    import transformers as tf

    torch.manual_seed(seed)
    if family == "llama":  # Llama 3.2 1B's shape of things: grouped KV heads, tied embeddings
        return tf.LlamaForCausalLM(tf.LlamaConfig(
            vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True, eos_token_id=eos_id,
            bos_token_id=eos_id)).eval()
    return tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=3, n_head=4, n_positions=256,
                                            eos_token_id=eos_id, bos_token_id=eos_id)).eval()


@dataclass
class CodiStandIn:
    base: Path  # the base model's folder (what model.id names)
    checkpoint: Path  # the CODI folder (model.safetensors)
    reference: object  # the peft-wrapped model as CODI runs it (adapters not merged)
    projection: object


def codi_checkpoint(directory: Path, family: str, lora_alpha: float = 32.0, seed: int = 0) -> CodiStandIn:
    """A base model folder and a CODI checkpoint folder over it, with random adapters and projection."""
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file
    from torch import nn

    tokenizer = byte_level_tokenizer()
    model = base_model(family, len(tokenizer), tokenizer.eos_token_id, seed)
    base = directory / f"{family}-base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    model.resize_token_embeddings(len(tokenizer) + 3, mean_resizing=False)
    torch.manual_seed(seed + 1)
    wrapped = get_peft_model(model, LoraConfig(r=4, lora_alpha=lora_alpha, target_modules=LORA_TARGETS[family],
                                               lora_dropout=0.0, init_lora_weights=False,
                                               fan_in_fan_out=family == "gpt2")).eval()
    hidden = model.config.get_text_config().hidden_size
    projection = nn.Sequential(nn.Dropout(0.0), nn.Linear(hidden, 48), nn.GELU(), nn.Linear(48, hidden))
    projection.add_module("ln", nn.LayerNorm(hidden))
    with torch.no_grad():
        projection.ln.weight.uniform_(0.5, 1.5)
        projection.ln.bias.normal_()
    projection.eval()
    state = {f"codi.{k}": v.detach().clone().contiguous() for k, v in wrapped.state_dict().items()
             if not k.endswith("lm_head.weight")}  # tied to the embedding: a saved module drops the copy
    state.update({f"prj.{k}": v.detach().clone().contiguous() for k, v in projection.state_dict().items()})
    checkpoint = directory / f"{family}-codi"
    checkpoint.mkdir(parents=True)
    save_file(state, str(checkpoint / "model.safetensors"))
    return CodiStandIn(base, checkpoint, wrapped, projection)


def codi_config(stand_in: CodiStandIn, dataset: Path, thoughts: int = 6, analyses: dict | None = None,
                run_name: str = "codi") -> dict:
    return {"run_name": run_name, "model": {"id": str(stand_in.base),
                                            "latent_checkpoint": {"path": str(stand_in.checkpoint)}},
            "datasets": [{"name": "gsm", "path": str(dataset)}],
            "generation": {"latent": {"thoughts": thoughts, "projection": "codi"}, "max_new_tokens": 6,
                           "batch_size": 2},
            "segmentation": {"answer_format": "last_number"}, "answers": {"check": "numeric"},
            "analyses": analyses if analyses is not None else {"attention": {}}, "output_dir": "runs"}


COCONUT_TOKENS = ["<|start-latent|>", "<|end-latent|>", "<|latent|>"]


def coconut_checkpoint(directory: Path, seed: int = 0) -> tuple[Path, Path, object]:
    """GPT-2 and a Coconut checkpoint over it: the fine-tuned model's state dict under ``base_causallm.``, its
    embeddings resized for the three latent tokens, saved with ``torch.save`` as Coconut's run.py does (with the
    causal-mask buffers older transformers kept in GPT-2's state). Returns (base folder, checkpoint, model)."""
    import torch

    tokenizer = byte_level_tokenizer()
    model = base_model("gpt2", len(tokenizer), tokenizer.eos_token_id, seed)
    base = directory / "gpt2-base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    tokenizer.add_tokens(COCONUT_TOKENS)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    torch.manual_seed(seed + 2)
    with torch.no_grad():
        for parameter in model.parameters():  # "fine-tuned": every weight differs from the base
            parameter.add_(torch.randn_like(parameter) * 0.05)
    state = {f"base_causallm.{k}": v.clone() for k, v in model.state_dict().items()}
    state.update({f"base_causallm.transformer.h.{i}.attn.bias": torch.ones(1, 1, 8, 8).tril() for i in range(3)})
    checkpoint = directory / "checkpoint_6"
    torch.save(state, checkpoint)
    return base, checkpoint, model
