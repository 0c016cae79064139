#include "tools/simulator/phrases.h"

namespace polku::sim {
namespace {

struct Bank {
  std::string_view language;
  Sentiment sentiment;
  std::string_view channel;  // "" = any channel
  std::vector<std::string_view> phrases;
};

const std::vector<Bank>& Banks() {
  static const auto* banks = new std::vector<Bank>{
      // Finnish.
      {"fi", Sentiment::kNegative, "",
       {"Palvelu oli hidasta ja jouduin kertomaan saman asian monta kertaa.",
        "En saanut vastausta kysymykseeni.",
        "Hinta ei vastannut sitä, mitä mainoksessa luvattiin.",
        "Todella turhauttava kokemus, en suosittele."}},
      {"fi", Sentiment::kNegative, "shop",
       {"Myyjällä ei ollut aikaa, jonotin kassalle pitkään.",
        "Myymälästä puuttui tuote, jonka takia tulin."}},
      {"fi", Sentiment::kNegative, "phone",
       {"Jonotin puhelimessa yli kymmenen minuuttia.",
        "Puhelu katkesi kesken ja jouduin soittamaan uudelleen."}},
      {"fi", Sentiment::kNegative, "web",
       {"Sivuston haku ei löytänyt mitään järkevää.",
        "Tilaus kaatui maksuvaiheessa."}},
      {"fi", Sentiment::kNegative, "email",
       {"Sähköpostissa oli väärät tiedot sopimuksestani.",
        "Viestejä tulee liikaa ja ne ovat epäselviä."}},
      {"fi", Sentiment::kNeutral, "",
       {"Ihan ok, ei mitään erityistä.", "Asia hoitui, mutta vähän kankeasti.",
        "Keskinkertainen kokemus."}},
      {"fi", Sentiment::kPositive, "",
       {"Kiitos nopeasta ja ystävällisestä palvelusta!",
        "Kaikki sujui helposti ja vaivattomasti.", "Selkeää ja asiantuntevaa palvelua."}},
      {"fi", Sentiment::kPositive, "shop",
       {"Myyjä oli asiantunteva ja kärsivällinen.", "Myymälässä oli mukava asioida."}},
      {"fi", Sentiment::kPositive, "phone",
       {"Puheluun vastattiin heti ja asia ratkesi kerralla.",
        "Asiakaspalvelija oli ystävällinen ja osaava."}},
      {"fi", Sentiment::kPositive, "web",
       {"Verkkosivuilta löytyi helposti kaikki tarvittava tieto.",
        "Tilaaminen verkossa kävi nopeasti."}},
      {"fi", Sentiment::kPositive, "email",
       {"Selkeä vahvistusviesti, kiitos.", "Sähköpostissa oli juuri oikeat tiedot."}},
      // Swedish.
      {"sv", Sentiment::kNegative, "",
       {"Servicen var långsam och jag fick upprepa samma sak flera gånger.",
        "Jag fick inget svar på min fråga.",
        "Priset stämde inte med det som utlovades i reklamen.",
        "En väldigt frustrerande upplevelse."}},
      {"sv", Sentiment::kNegative, "shop",
       {"Ingen säljare hade tid, jag fick köa länge i kassan.",
        "Butiken hade inte varan jag kom för."}},
      {"sv", Sentiment::kNegative, "phone",
       {"Jag väntade i telefonkön i över tio minuter.",
        "Samtalet bröts och jag fick ringa igen."}},
      {"sv", Sentiment::kNegative, "web",
       {"Sökfunktionen på webbplatsen hittade ingenting vettigt.",
        "Beställningen kraschade vid betalningen."}},
      {"sv", Sentiment::kNegative, "email",
       {"Mejlet hade fel uppgifter om mitt avtal.",
        "För många mejl och de är otydliga."}},
      {"sv", Sentiment::kNeutral, "",
       {"Helt okej, inget speciellt.", "Det löste sig, men lite krångligt.",
        "En medelmåttig upplevelse."}},
      {"sv", Sentiment::kPositive, "",
       {"Tack för snabb och vänlig service!", "Allt gick smidigt och enkelt.",
        "Tydlig och kunnig service."}},
      {"sv", Sentiment::kPositive, "shop",
       {"Säljaren var kunnig och tålmodig.", "Trevligt att handla i butiken."}},
      {"sv", Sentiment::kPositive, "phone",
       {"Samtalet besvarades direkt och ärendet löstes på en gång.",
        "Kundtjänsten var vänlig och kunnig."}},
      {"sv", Sentiment::kPositive, "web",
       {"Det var lätt att hitta all information på webbplatsen.",
        "Att beställa på nätet gick snabbt."}},
      {"sv", Sentiment::kPositive, "email",
       {"Tydligt bekräftelsemejl, tack.", "Mejlet hade precis rätt information."}},
      // English.
      {"en", Sentiment::kNegative, "",
       {"Slow service, and I had to explain the same thing several times.",
        "I never got an answer to my question.",
        "The price did not match what the advert promised.",
        "A really frustrating experience."}},
      {"en", Sentiment::kNegative, "shop",
       {"No seller had time for me and the checkout queue was long.",
        "The store did not have the product I came for."}},
      {"en", Sentiment::kNegative, "phone",
       {"I waited on the line for more than ten minutes.",
        "The call dropped and I had to call again."}},
      {"en", Sentiment::kNegative, "web",
       {"The site search found nothing useful.", "The order failed at the payment step."}},
      {"en", Sentiment::kNegative, "email",
       {"The e-mail had the wrong details of my contract.",
        "Too many e-mails, and they are confusing."}},
      {"en", Sentiment::kNeutral, "",
       {"Fine, nothing special.", "It got sorted, but a bit clumsily.",
        "An average experience."}},
      {"en", Sentiment::kPositive, "",
       {"Thanks for the quick and friendly service!", "Everything went smoothly and easily.",
        "Clear and knowledgeable service."}},
      {"en", Sentiment::kPositive, "shop",
       {"The seller was knowledgeable and patient.", "A pleasant store to visit."}},
      {"en", Sentiment::kPositive, "phone",
       {"The call was answered at once and the issue solved first time.",
        "The agent was friendly and competent."}},
      {"en", Sentiment::kPositive, "web",
       {"Easy to find everything I needed on the website.",
        "Ordering online was quick."}},
      {"en", Sentiment::kPositive, "email",
       {"A clear confirmation e-mail, thank you.", "The e-mail had exactly the right details."}},
  };
  return *banks;
}

}  // namespace

std::vector<std::string_view> Phrases(std::string_view language, Sentiment sentiment,
                                      std::string_view channel) {
  std::vector<std::string_view> phrases;
  for (bool general : {false, true}) {
    if (!general && channel.empty()) continue;
    for (const Bank& bank : Banks()) {
      if (bank.language != language || bank.sentiment != sentiment) continue;
      if (general ? !bank.channel.empty() : bank.channel != channel) continue;
      phrases.insert(phrases.end(), bank.phrases.begin(), bank.phrases.end());
    }
  }
  return phrases;
}

}  // namespace polku::sim
