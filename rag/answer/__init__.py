"""`rag ask`: structured, cited answers composed from retrieved passages."""

from rag.answer.compose import Asker, ask
from rag.answer.models import Answer
from rag.answer.settings import AnswerSettings

__all__ = ["Answer", "AnswerSettings", "Asker", "ask"]
