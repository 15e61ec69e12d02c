"""Getting memories in: batch import (extraction and consolidation come next)."""
