"""Tiny multilingual models with real SentencePiece tokenizers, built offline (no hub).

A SentencePiece model is trained in-process on mixed Chinese, English and other-script text, and
wrapped the way the hub checkpoints wrap theirs:
- XLM-RoBERTa (xlm-roberta-large-xnli, bge-m3-zeroshot-v2.0, paraphrase-multilingual-*): a
  unigram model whose ids are shifted by one behind fairseq's <s> <pad> </s> <unk>, so <pad> is 1
  and pairs read `<s> A </s></s> B </s>` (transformers' XLMRobertaTokenizer, fairseq_offset);
- DeBERTa-v2/v3 (mDeBERTa-v3-base-mnli-xnli, *-zeroshot-v2.0): the SentencePiece ids as they
  are, with [PAD]=0 [CLS]=1 [SEP]=2 [UNK]=3 in the model itself, as microsoft/mdeberta-v3-base's
  spm.model has them, and token_type_ids for the hypothesis.
Both are saved with the fast tokenizer (tokenizer.json, what AutoTokenizer loads) beside the
SentencePiece file the slow tokenizer reads.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Literal

from nli_label_orders import ENTAILMENT_FIRST, ENTAILMENT_LAST

from zstc.reference_categories import REFERENCE_CATEGORIES, REFERENCE_CATEGORIES_ZH

TokenizerFamily = Literal["xlm-roberta", "deberta-v2"]

# Two-class heads: bge-m3-zeroshot-v2.0 and the *-zeroshot-v2.0 DeBERTa models (config.json).
ENTAILMENT_NOT_ENTAILMENT = {"entailment": 0, "not_entailment": 1}

# What the SentencePiece model learns from: mixed scripts, so that Chinese splits into words and
# single characters, and characters never seen (emoji, rare Han) map to the unknown piece.
TRAINING_SENTENCES = (
    "#新年决心 :: 多读书,早餐前不浏览fb/查看邮件,坚持做体能训练/瑜伽缓解背部疼痛!",
    "每周去三次健身房,少喝含糖饮料,每天睡够八个小时",
    "学会做饭,每个月给慈善机构捐款,周末去爬山",
    "把信用卡债还清,每个月存下工资的两成",
    "学习Python和机器学习,争取升职加薪",
    "这个例子是健康。这个例子是幽默。这段文字是关于职业的。",
    "Read more books, no scrolling fb/checking email before breakfast",
    "Go to the gym three times a week and learn to cook",
    "Save money, pay off debt and invest in index funds",
    "This example is about health, humor and personal growth.",
    "Lire plus de livres et apprendre l'espagnol cette année",
    "Mehr Sport treiben und weniger Zucker essen",
    "Больше читать и меньше сидеть в телефоне",
    "もっと本を読んで、毎朝ジョギングする",
    "매일 운동하고 책을 더 많이 읽기",
    "ممارسة الرياضة كل يوم وقراءة المزيد من الكتب",
    "हर दिन योग करना और किताबें पढ़ना",
    " ".join(REFERENCE_CATEGORIES),
    " ".join(REFERENCE_CATEGORIES_ZH),
)

DEBERTA_SPECIAL_PIECES = {
    "pad_id": 0,
    "pad_piece": "[PAD]",
    "bos_id": 1,
    "bos_piece": "[CLS]",
    "eos_id": 2,
    "eos_piece": "[SEP]",
    "unk_id": 3,
    "unk_piece": "[UNK]",
    "user_defined_symbols": ["[MASK]"],
}


def train_sentencepiece(*, family: TokenizerFamily, vocab_size: int = 400) -> bytes:
    """A unigram SentencePiece model (the serialized ModelProto), trained in well under a second."""
    import sentencepiece

    specials: dict[str, Any] = DEBERTA_SPECIAL_PIECES if family == "deberta-v2" else {}
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_SENTENCES * 10),
        model_writer=model,
        vocab_size=vocab_size,
        # The vocabulary is as large as this little corpus allows, never more than vocab_size.
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        minloglevel=2,
        **specials,
    )
    return model.getvalue()


def save_tokenizer(*, family: TokenizerFamily, target: Path, model_max_length: int) -> Any:
    """Trains the SentencePiece model, wraps it as the family's fast tokenizer, saves both files.

    Returns the fast tokenizer; `slow_tokenizer(family, target)` loads the slow one."""
    from transformers import DebertaV2TokenizerFast, XLMRobertaTokenizerFast

    target.mkdir(parents=True, exist_ok=True)
    vocab_file = target / ("spm.model" if family == "deberta-v2" else "sentencepiece.bpe.model")
    vocab_file.write_bytes(train_sentencepiece(family=family))
    fast_class = DebertaV2TokenizerFast if family == "deberta-v2" else XLMRobertaTokenizerFast
    tokenizer = fast_class(vocab_file=str(vocab_file), model_max_length=model_max_length)
    tokenizer.save_pretrained(target)
    return tokenizer


def slow_tokenizer(*, family: TokenizerFamily, model_dir: Path) -> Any:
    from transformers import DebertaV2Tokenizer, XLMRobertaTokenizer

    slow_class = DebertaV2Tokenizer if family == "deberta-v2" else XLMRobertaTokenizer
    return slow_class.from_pretrained(model_dir)


def save_nli_model(
    *,
    family: TokenizerFamily,
    label2id: dict[str, int],
    target: Path,
    seed: int = 0,
    model_max_length: int = 48,
) -> Path:
    """A tiny random NLI checkpoint of the family, with its SentencePiece tokenizer, in target."""
    import torch
    from transformers import (
        DebertaV2Config,
        DebertaV2ForSequenceClassification,
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
    )

    tokenizer = save_tokenizer(family=family, target=target, model_max_length=model_max_length)
    labels = {
        "num_labels": len(label2id),
        "label2id": dict(label2id),
        "id2label": {index: label for label, index in label2id.items()},
    }
    sizes = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        # Far above the usual 0.02, so that random logits differ by whole units and scores
        # spread out: parity within 1e-5 then means something.
        "initializer_range": 0.5,
    }
    torch.manual_seed(seed)
    model: Any
    if family == "xlm-roberta":
        # RoBERTa numbers positions from padding_idx + 1, so it needs two more than the length.
        config = XLMRobertaConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=model_max_length + 2,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **sizes,
            **labels,
        )
        model = XLMRobertaForSequenceClassification(config)
    else:
        # DeBERTa-v3's shape: relative positions only, shared attention keys, no absolute
        # position input, no token type embeddings (microsoft/mdeberta-v3-base config.json).
        config = DebertaV2Config(
            vocab_size=len(tokenizer),
            max_position_embeddings=model_max_length,
            relative_attention=True,
            position_buckets=16,
            norm_rel_ebd="layer_norm",
            share_att_key=True,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
            type_vocab_size=0,
            pad_token_id=tokenizer.pad_token_id,
            **sizes,
            **labels,
        )
        model = DebertaV2ForSequenceClassification(config)
    model.eval().save_pretrained(target)
    return target


def save_sentence_transformer(
    *, backbone: Literal["xlm-roberta", "bert"], target: Path, seed: int = 0
) -> Path:
    """A tiny sentence-transformers directory with an XLM-RoBERTa SentencePiece tokenizer.

    backbone "xlm-roberta" has the shape of paraphrase-multilingual-mpnet-base-v2 (an
    XLMRobertaModel); "bert" that of paraphrase-multilingual-MiniLM-L12-v2 (a BertModel under
    the XLM-R tokenizer). Mean pooling, as both of them use, and a max_seq_length short enough
    that long texts are truncated.
    """
    import torch
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel

    max_seq_length = 24
    transformer_dir = target
    tokenizer = save_tokenizer(family="xlm-roberta", target=transformer_dir, model_max_length=512)
    sizes = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "initializer_range": 0.5,
    }
    torch.manual_seed(seed)
    model: Any
    if backbone == "xlm-roberta":
        model = XLMRobertaModel(XLMRobertaConfig(max_position_embeddings=514, **sizes))
    else:
        model = BertModel(BertConfig(max_position_embeddings=512, **sizes))
    model.eval().save_pretrained(transformer_dir)
    (target / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
            ]
        ),
        encoding="utf-8",
    )
    (target / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}), encoding="utf-8"
    )
    (target / "1_Pooling").mkdir(exist_ok=True)
    (target / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {"word_embedding_dimension": sizes["hidden_size"], "pooling_mode_mean_tokens": True}
        ),
        encoding="utf-8",
    )
    return target


# The variants the parity tests run: each family with a 3-label head in the label order of a real
# multilingual checkpoint, and with the 2-label entailment/not_entailment head.
NLI_VARIANTS: dict[str, dict[str, Any]] = {
    # joeddav/xlm-roberta-large-xnli: contradiction, neutral, entailment.
    "xlm-roberta-3-labels": {"family": "xlm-roberta", "label2id": ENTAILMENT_LAST, "seed": 11},
    # MoritzLaurer/bge-m3-zeroshot-v2.0 (an XLM-RoBERTa): entailment, not_entailment.
    "xlm-roberta-2-labels": {
        "family": "xlm-roberta",
        "label2id": ENTAILMENT_NOT_ENTAILMENT,
        "seed": 12,
    },
    # MoritzLaurer/mDeBERTa-v3-base-mnli-xnli: entailment, neutral, contradiction.
    "deberta-v2-3-labels": {"family": "deberta-v2", "label2id": ENTAILMENT_FIRST, "seed": 13},
    "deberta-v2-2-labels": {
        "family": "deberta-v2",
        "label2id": ENTAILMENT_NOT_ENTAILMENT,
        "seed": 14,
    },
}
