#include "lib/text/stop_words.h"

#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_set.h"

namespace polku::text {
namespace {

using WordSet = absl::flat_hash_set<absl::string_view>;

// Function words of customer comments: pronouns (and, for Finnish, their
// frequent cases), conjunctions, particles, the copula and auxiliaries,
// adpositions and vague adverbs. Words with a sentiment (hyvä, bra, good,
// huono, dålig, bad) and intensifiers that customers use to complain
// (liian, för, too) are not here: themes need them.
const WordSet& FinnishStopWords() {
  static const WordSet* words = new WordSet{
      // conjunctions and particles
      "ja", "sekä", "tai", "vai", "mutta", "vaan", "että", "kun", "jos",
      "koska", "kuin", "eli", "niin", "myös", "vielä", "jo", "sitten", "nyt",
      "kyllä", "vain", "ihan", "aivan", "tosi", "todella", "kuitenkin", "siis",
      "joten", "jotta", "vaikka", "no", "taas", "hän",
      // personal pronouns (base forms and the common cases)
      "minä", "mä", "mie", "minun", "mun", "minua", "mua", "minulle", "mulle",
      "minulla", "mulla", "minulta", "multa", "minut", "sinä", "sä", "sinun",
      "sun", "sinua", "sinulle", "sulle", "sinulla", "sulla", "sinut",
      "hänen", "häntä", "hänelle", "hänellä", "häneltä", "me", "meidän",
      "meitä", "meille", "meillä", "meiltä", "meidät", "te", "teidän", "teitä",
      "teille", "teillä", "teiltä", "he", "heidän", "heitä", "heille",
      "heillä", "heiltä",
      // demonstratives and relatives
      "se", "sen", "sitä", "siinä", "siitä", "sille", "siihen", "sillä",
      "siltä", "ne", "niiden", "niitä", "niille", "niissä", "niistä", "niihin",
      "niillä", "tämä", "tän", "tämän", "tätä", "tässä", "tästä", "tähän",
      "tälle", "tällä", "täältä", "täällä", "nämä", "näitä", "näiden", "tuo",
      "tuon", "tuota", "tuolla", "joka", "jonka", "jota", "jossa", "josta",
      "johon", "jolle", "jolla", "jolta", "jotka", "joita", "joiden", "mikä",
      "minkä", "mitä", "missä", "mistä", "mihin", "millä", "mille", "kuka",
      "kenen", "ketä", "kuinka", "miten", "miksi", "milloin", "itse", "oma",
      "joku", "jokin", "jotain", "jotakin", "mitään", "mikään", "kukaan",
      "kaikki", "kaiken", "kaikkea", "koko", "muu", "muut",
      // the copula and auxiliaries
      "olla", "on", "ovat", "oli", "olivat", "olen", "olet", "olemme",
      "olette", "olin", "olisi", "olisin", "ollut", "olleet", "ole", "olisivat",
      "voida", "voi", "voisi",
      // adpositions and adverbs of no theme
      "kanssa", "mukaan", "kautta", "jälkeen", "ennen", "aina", "vähän",
      "paljon", "vielä", "asti", "saakka", "kohti", "luona", "sitä", "ollenkaan",
  };
  return *words;
}

const WordSet& SwedishStopWords() {
  static const WordSet* words = new WordSet{
      // conjunctions and particles
      "och", "eller", "men", "att", "som", "när", "om", "så", "då", "också",
      "bara", "redan", "nu", "sedan", "sen", "än", "ju", "väl", "nog", "även",
      "eftersom", "fast", "medan", "både", "dock", "alltså", "typ",
      // pronouns
      "jag", "mig", "mej", "min", "mitt", "mina", "du", "dig", "dej", "din",
      "ditt", "dina", "han", "honom", "hans", "hon", "henne", "hennes", "vi",
      "oss", "vår", "vårt", "våra", "ni", "er", "ert", "era", "de", "dem",
      "dom", "deras", "den", "det", "denna", "detta", "dessa", "man", "sig",
      "sej", "sin", "sitt", "sina", "vad", "vem", "vilken", "vilket", "vilka",
      "hur", "varför", "var", "här", "där", "någon", "något", "några", "ingen",
      "inget", "inga", "alla", "allt", "själv", "annan", "annat", "andra",
      // articles and prepositions
      "en", "ett", "i", "på", "av", "till", "från", "med", "utan", "vid",
      "hos", "under", "över", "efter", "före", "mot", "genom", "åt", "mellan",
      "för",
      // the copula and auxiliaries
      "är", "vara", "varit", "blir", "blev", "bli", "blivit", "har", "hade",
      "ha", "haft", "kan", "kunde", "kunna", "kunnat", "ska", "skall",
      "skulle", "vill", "ville", "måste", "får", "fick", "brukar",
      // vague adverbs
      "mycket", "lite", "väldigt", "riktigt", "helt", "ganska", "jätte",
      "verkligen", "igen", "ens", "alltid",
  };
  return *words;
}

const WordSet& EnglishStopWords() {
  static const WordSet* words = new WordSet{
      // articles, conjunctions
      "a", "an", "the", "and", "or", "but", "if", "because", "so", "than",
      "then", "that", "as", "while", "though", "although", "also", "just",
      "very", "really", "quite", "even", "still", "yet", "only", "again",
      "ever",
      // pronouns
      "i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "you",
      "your", "yours", "he", "him", "his", "she", "her", "hers", "it", "its",
      "they", "them", "their", "theirs", "this", "these", "those", "there",
      "here", "what", "which", "who", "whom", "whose", "when", "where", "why",
      "how", "all", "any", "some", "each", "every", "other", "such", "own",
      "same", "someone", "something", "anything", "no",
      "i'm", "i've", "i'd", "i'll", "you're", "you've", "we're", "we've",
      "they're", "it's", "that's", "there's", "im", "ive", "its",
      // the copula and auxiliaries
      "is", "am", "are", "was", "were", "be", "been", "being", "do", "does",
      "did", "doing", "have", "has", "had", "having", "will", "would",
      "shall", "should", "can", "could", "may", "might", "must", "get", "got",
      // prepositions
      "to", "of", "in", "on", "at", "for", "with", "from", "by", "about",
      "into", "over", "after", "before", "up", "down", "out", "off", "through",
      "around", "between",
  };
  return *words;
}

const WordSet& FinnishNegations() {
  static const WordSet* words = new WordSet{
      "ei",    "en",    "et",    "emme",   "ette",   "eivät",  "eikä",
      "enkä",  "etkä",  "emmekä", "ettekä", "eivätkä", "älä",   "älkää",
      "äläkä", "älkäämme",
  };
  return *words;
}

const WordSet& SwedishNegations() {
  static const WordSet* words = new WordSet{"inte", "ej", "icke", "aldrig"};
  return *words;
}

const WordSet& EnglishNegations() {
  static const WordSet* words = new WordSet{
      "not",      "never",    "cannot",  "can't",   "cant",     "don't",
      "dont",     "doesn't",  "doesnt",  "didn't",  "didnt",    "isn't",
      "isnt",     "aren't",   "arent",   "wasn't",  "wasnt",    "weren't",
      "werent",   "won't",    "wont",    "wouldn't", "wouldnt", "couldn't",
      "couldnt",  "shouldn't", "shouldnt", "haven't", "havent", "hasn't",
      "hasnt",    "hadn't",   "hadnt",   "ain't",
  };
  return *words;
}

}  // namespace

bool IsStopWord(Language language, absl::string_view folded) {
  switch (language) {
    case Language::kFinnish:
      return FinnishStopWords().contains(folded);
    case Language::kSwedish:
      return SwedishStopWords().contains(folded);
    case Language::kEnglish:
      return EnglishStopWords().contains(folded);
    case Language::kUnknown:
      break;
  }
  return FinnishStopWords().contains(folded) ||
         SwedishStopWords().contains(folded) ||
         EnglishStopWords().contains(folded);
}

bool IsNegation(Language language, absl::string_view folded) {
  switch (language) {
    case Language::kFinnish:
      return FinnishNegations().contains(folded);
    case Language::kSwedish:
      return SwedishNegations().contains(folded);
    case Language::kEnglish:
      return EnglishNegations().contains(folded);
    case Language::kUnknown:
      break;
  }
  return false;
}

}  // namespace polku::text
