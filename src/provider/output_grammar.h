// OutputGrammar: a constraint on the bytes a provider may generate, for constrained decoding.
//
// A grammar is a state machine over output bytes. The bundled engine (provider/local_provider.*)
// asks it, before each token, which tokens may come next (those whose bytes it accepts from the
// current state) and masks the rest out of the logits; after sampling it advances the state with
// the chosen token's bytes. Once complete(), only an end-of-generation token may follow.
// OpenAI-compatible providers ignore a grammar (no server offers this kind of constraint).
//
// Thread safety: an OutputGrammar is immutable and shared by requests; each generation gets its
// own GrammarState from start(), used by one thread.
#pragma once

#include <memory>
#include <string_view>

namespace wobble {

class GrammarState {
 public:
  virtual ~GrammarState() = default;
  // Whether `bytes` may come next (all of them, in order). Must not change the state.
  virtual bool accepts(std::string_view bytes) const = 0;
  // Consumes `bytes`; only called with bytes accepts() allowed.
  virtual void advance(std::string_view bytes) = 0;
  // The output is whole: end-of-generation is the only continuation.
  virtual bool complete() const = 0;
};

class OutputGrammar {
 public:
  virtual ~OutputGrammar() = default;
  // A fresh state for one generation of at most max_tokens tokens (0: no limit). A grammar that can
  // must keep a complete output reachable within that budget, so a long-winded model is steered
  // to finish instead of being cut off mid-shape.
  virtual std::unique_ptr<GrammarState> start(int max_tokens) const = 0;
};

}  // namespace wobble
