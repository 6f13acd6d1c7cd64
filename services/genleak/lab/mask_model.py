"""The lab's masked LM for the neighbourhood attack (`lab:mask_model`).

MIMIR's `ne` perturbs texts with bert-base-uncased; genleak downloads nothing at run time, so the
lab trains a small BERT itself, on mail of the same kind that is neither a member nor a non-member
(written by the lab's MailWriter from a separate seed, cast with tuning people only, so it carries
no PII-eval person). The attack then proposes in-domain neighbours from a model that has never seen
the texts it perturbs, which is the attack's assumption about bert-base-uncased and the audited data.

Trained with the lab's pretraining loop (length-grouped dynamic padding, warm-up + cosine) and
transformers' own MLM masking (DataCollatorForLanguageModeling: 15 % of tokens, 80/10/10), seeded,
so the same lab seed gives the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast, DataCollatorForLanguageModeling

from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.lab.config import LabConfig
from genleak.lab.corpus import MailWriter
from genleak.lab.people import Person
from genleak.lab.pretrain import TrainRun, TrainStats, pretrain
from genleak.lab.splits import tuning_cast

STAGE = "pretrain-mask-model"


def mask_corpus(config: LabConfig, people: list[Person], avoid: set[str]) -> list[str]:
    """`mask_model.n_docs` mail texts of tuning people, none equal to a text in `avoid` (members, non-members)."""
    writer = MailWriter(config.corpus)
    tuning = [p for p in people if p.role == "tuning"]
    rng = random.Random(f"mask-corpus-{config.seed}-{config.mask_model.seed}")
    texts: list[str] = []
    while len(texts) < config.mask_model.n_docs:
        text = writer.write(tuning_cast(tuning, rng), rng)
        if text not in avoid:
            texts.append(text)
    return texts


SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_wordpiece(texts: list[str], vocab_size: int, max_length: int) -> BertTokenizerFast:
    """A lowercased WordPiece tokenizer (bert-base-uncased's pipeline) whose vocabulary is a pure function
    of the texts: the special tokens, every character (alone and as a "##" continuation), then the most
    frequent whole words, ties broken alphabetically. The `tokenizers` WordPiece trainer is not used: it
    numbers pieces in hash-map order, so one corpus gave two vocabularies and the lab stopped being
    byte-identical from its seed. Words outside the vocabulary split into characters."""
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words: Counter = Counter()
    for text in texts:
        words.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for word in words for c in word})
    vocab = list(SPECIAL_TOKENS) + chars + [f"##{c}" for c in chars]
    room = max(0, vocab_size - len(vocab))
    ranked = sorted((w for w, n in words.items() if n >= 2 and len(w) > 1), key=lambda w: (-words[w], w))
    vocab += ranked[:room]
    ids = {token: i for i, token in enumerate(vocab)}
    tok = Tokenizer(models.WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = normalizer, pre_tokenizer, decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
    tokenizer = BertTokenizerFast(tokenizer_object=tok, do_lower_case=True, model_max_length=max_length,
                                  unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
                                  mask_token="[MASK]")
    if len(tokenizer) < 100:
        raise ValueError(f"the masked LM's vocabulary came out with {len(tokenizer)} tokens")
    return tokenizer


def build_mask_model(config: LabConfig, texts: list[str], out_dir: Path,
                     reporter: Reporter = NULL_REPORTER) -> TrainStats:
    """Train the tokenizer and the BERT masked LM on `texts`; save both (safetensors) to `out_dir`."""
    m = config.mask_model
    tokenizer = train_wordpiece(texts, m.vocab_size, m.max_positions)
    torch.manual_seed(m.seed)  # init, and the collator's masking (it draws from torch's global generator)
    model = BertForMaskedLM(BertConfig(
        vocab_size=len(tokenizer), hidden_size=m.hidden_size, num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads, intermediate_size=m.intermediate_size,
        max_position_embeddings=m.max_positions))
    documents = tokenizer(texts, truncation=True, max_length=m.max_positions)["input_ids"]  # [CLS] ... [SEP]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=m.mlm_probability,
                                               return_tensors="pt")

    def masked_batch(batch: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = collator([{"input_ids": ids} for ids in batch])
        return out["input_ids"], out["attention_mask"], out["labels"]

    schedule = config.pretrain.model_copy(update={"batch_size": m.batch_size, "max_length": m.max_positions})
    stats = pretrain(model, documents, tokenizer.pad_token_id, TrainRun(STAGE, m.epochs, m.lr, m.seed), schedule,
                     reporter, make_batch=masked_batch)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return stats
