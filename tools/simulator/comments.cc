#include "tools/simulator/comments.h"

namespace polku::sim {
namespace {

struct Bank {
  std::string_view language;
  Sentiment sentiment;
  std::string_view channel;  // "" = any channel
  std::vector<std::string_view> sentences;
};

// The generic complaints spread over many different words, so that none of
// them is nearly as frequent among low scores as a planted theme; none
// mentions a plantable theme or a neutral phrase's words (comments_test).
const std::vector<Bank>& Banks() {
  static const auto* banks = new std::vector<Bank>{
      // Finnish.
      {"fi", Sentiment::kNegative, "",
       {"Palvelu oli hidasta ja jouduin kertomaan saman asian monta kertaa.",
        "En saanut vastausta kysymykseeni, vaikka kysyin kahdesti.",
        "Hinta ei vastannut sitä, mitä mainoksessa luvattiin.",
        "Todella turhauttava kokemus, en suosittele kenellekään.",
        "Asiakaspalvelijat eivät tienneet valikoimasta oikein mitään.",
        "Sopimusehtoja muutettiin yllättäen ilman mitään ilmoitusta.",
        "Hyvitystä lupailtiin, mutta rahoja ei ole näkynyt tililläni.",
        "Laite hajosi jo ensimmäisenä päivänä, iso pettymys.",
        "Ohjeet olivat niin sekavia, etten ymmärtänyt niistä mitään.",
        "Kukaan ei ottanut vastuuta ongelmastani, minua pompoteltiin paikasta toiseen.",
        "Henkilökunta oli tylyä eikä edes tervehtinyt.",
        "Odottelin vuoroani lähes puoli tuntia turhautuneena.",
        "Takuukorjaus hoidettiin huolimattomasti ja välinpitämättömästi.",
        "Maksoin lisäpalvelusta, joka ei toiminut lainkaan.",
        "Aukioloajat olivat väärin ja ovi oli lukossa.",
        "Reklamaatioon vastattiin vasta kolmen viikon päästä."}},
      {"fi", Sentiment::kNegative, "shop",
       {"Myyjällä ei ollut aikaa, jonotin kassalle pitkään.",
        "Myymälästä puuttui se tuote, jonka takia tulin.",
        "Hyllyt olivat sotkuiset ja käytävät täynnä laatikoita."}},
      {"fi", Sentiment::kNegative, "phone",
       {"Jonotin puhelimessa yli kymmenen minuuttia ennen kuin sain yhteyden.",
        "Puhelu katkesi kesken ja soitin vielä uudestaan.",
        "Takaisinsoittoa odotin, mutta kukaan ei soittanut."}},
      {"fi", Sentiment::kNegative, "web",
       {"Sivuston haku ei löytänyt yhtään järkevää tulosta.",
        "Tilaus kaatui maksuvaiheessa juuri ennen vahvistusta.",
        "Sovellus jumittaa aina, kun yritän kirjautua sisään."}},
      {"fi", Sentiment::kNegative, "email",
       {"Sähköpostissa oli väärät tiedot liittymästäni.",
        "Viestejä tulee liikaa ja ne ovat epäselviä.",
        "Vahvistusta ei koskaan tullut perille asti."}},
      {"fi", Sentiment::kNeutral, "",
       {"Ihan ok, ei mitään erityistä.", "Asia hoitui, mutta vähän kankeasti.",
        "Keskinkertainen kokemus, ei hyvä eikä huono.",
        "Perusasiat toimivat, parannettavaakin vielä löytyy.",
        "Odotukset täyttyivät suunnilleen, ei sen kummempaa."}},
      {"fi", Sentiment::kPositive, "",
       {"Kiitos nopeasta ja ystävällisestä palvelusta!",
        "Kaikki sujui helposti ja vaivattomasti tällä kertaa.",
        "Selkeää ja asiantuntevaa palvelua, kiitos siitä.",
        "Sain apua heti ja asia ratkesi kerralla.",
        "Erittäin hyvä kokemus, suosittelen ystävilleni.",
        "Hinnat olivat kohtuulliset ja palvelu sujuvaa."}},
      {"fi", Sentiment::kPositive, "shop",
       {"Myyjä oli asiantunteva ja kärsivällinen kanssani.",
        "Myymälässä oli mukava asioida, siistiä ja rauhallista."}},
      {"fi", Sentiment::kPositive, "phone",
       {"Puheluun vastattiin heti ja asia ratkesi kerralla.",
        "Asiakaspalvelija oli ystävällinen ja osaava."}},
      {"fi", Sentiment::kPositive, "web",
       {"Verkkosivuilta löytyi helposti kaikki tarvittava tieto.",
        "Tilaaminen verkossa sujui nopeasti ja helposti."}},
      {"fi", Sentiment::kPositive, "email",
       {"Selkeä vahvistusviesti tuli heti, kiitos.",
        "Sähköpostissa oli juuri oikeat tiedot."}},
      // Swedish.
      {"sv", Sentiment::kNegative, "",
       {"Servicen var långsam och jag fick upprepa samma sak flera gånger.",
        "Jag fick inget svar på min fråga trots två försök.",
        "Priset stämde inte med det som utlovades i reklamen.",
        "En väldigt frustrerande upplevelse, jag rekommenderar er inte.",
        "Personalen visste nästan ingenting om produkterna.",
        "Avtalsvillkoren var otydliga och ändrades utan förvarning.",
        "Återbetalningen utlovades men pengarna har inte kommit.",
        "Apparaten gick sönder redan första gången jag använde den.",
        "Instruktionerna var så röriga att jag inte förstod något.",
        "Ingen tog ansvar för mitt problem, jag skickades runt."}},
      {"sv", Sentiment::kNegative, "shop",
       {"Ingen säljare hade tid, jag fick köa länge i kassan.",
        "Varan jag kom för var slutsåld igen.",
        "Hyllorna var stökiga och prislapparna saknades."}},
      {"sv", Sentiment::kNegative, "phone",
       {"Jag väntade i telefonkön i över tio minuter.",
        "Samtalet bröts och jag fick ringa igen.",
        "De lovade att ringa tillbaka men ingen hörde av sig."}},
      {"sv", Sentiment::kNegative, "web",
       {"Sökfunktionen på webbplatsen hittade ingenting vettigt.",
        "Beställningen kraschade vid betalningen två gånger.",
        "Appen kraschar varje gång jag försöker logga in."}},
      {"sv", Sentiment::kNegative, "email",
       {"Mejlet hade fel uppgifter om mitt avtal.",
        "För många mejl och de är otydliga.",
        "Bekräftelsemejlet kom aldrig fram till mig."}},
      {"sv", Sentiment::kNeutral, "",
       {"Helt okej, inget speciellt att säga.", "Det löste sig, men lite krångligt.",
        "En medelmåttig upplevelse, varken bra eller dålig.",
        "Grunderna fungerar, men en del kan bli bättre.",
        "Ungefär som jag väntade mig, inget mer."}},
      {"sv", Sentiment::kPositive, "",
       {"Tack för snabb och vänlig service!",
        "Allt gick smidigt och enkelt den här gången.",
        "Tydlig och kunnig service, tack för det.",
        "Jag fick hjälp direkt och ärendet löstes.",
        "En mycket bra upplevelse, jag rekommenderar er gärna.",
        "Rimliga priser och smidig service hela vägen."}},
      {"sv", Sentiment::kPositive, "shop",
       {"Säljaren var kunnig och tålmodig med mig.",
        "Trevligt att handla här, lugnt och städat."}},
      {"sv", Sentiment::kPositive, "phone",
       {"Samtalet besvarades direkt och ärendet löstes på en gång.",
        "Kundtjänsten var vänlig och kunnig."}},
      {"sv", Sentiment::kPositive, "web",
       {"Det var lätt att hitta all information på webbplatsen.",
        "Att beställa på nätet gick snabbt och enkelt."}},
      {"sv", Sentiment::kPositive, "email",
       {"Ett tydligt bekräftelsemejl kom direkt, tack.",
        "Mejlet hade precis rätt information."}},
      // English.
      {"en", Sentiment::kNegative, "",
       {"Slow service, and I had to explain the same thing several times.",
        "I never got an answer to my question, despite asking twice.",
        "The price did not match what the advert promised.",
        "A really frustrating experience, I would not recommend you.",
        "The staff knew next to nothing about the products.",
        "The contract terms were unclear and changed without warning.",
        "A refund was promised but the money never came.",
        "The device broke the very first time I used it.",
        "The instructions were so confusing that I understood nothing.",
        "Nobody took responsibility for my problem, I was passed around."}},
      {"en", Sentiment::kNegative, "shop",
       {"No seller had time for me and the checkout queue was long.",
        "The product I came for was sold out again.",
        "The shelves were a mess and price tags were missing."}},
      {"en", Sentiment::kNegative, "phone",
       {"I waited on the line for more than ten minutes.",
        "The call dropped and I had to call again.",
        "They promised to call back but nobody ever did."}},
      {"en", Sentiment::kNegative, "web",
       {"The site search found nothing useful at all.",
        "The order failed at the payment step twice.",
        "The app crashes every time I try to log in."}},
      {"en", Sentiment::kNegative, "email",
       {"The e-mail had the wrong details of my contract.",
        "Too many e-mails, and they are confusing.",
        "The confirmation e-mail never reached me."}},
      {"en", Sentiment::kNeutral, "",
       {"Fine, nothing special to report.", "It got sorted, but a bit clumsily.",
        "An average experience, neither good nor bad.",
        "The basics work, though some things could be better.",
        "About what I expected, nothing more."}},
      {"en", Sentiment::kPositive, "",
       {"Thanks for the quick and friendly service!",
        "Everything went smoothly and easily this time.",
        "Clear and knowledgeable service, thank you.",
        "I got help straight away and the issue was solved.",
        "A very good experience, I happily recommend you.",
        "Fair prices and smooth service all the way."}},
      {"en", Sentiment::kPositive, "shop",
       {"The seller was knowledgeable and patient with me.",
        "A pleasant, calm and tidy place to shop."}},
      {"en", Sentiment::kPositive, "phone",
       {"The call was answered at once and the issue solved first time.",
        "The agent was friendly and competent."}},
      {"en", Sentiment::kPositive, "web",
       {"Easy to find everything I needed on the website.",
        "Ordering online was quick and simple."}},
      {"en", Sentiment::kPositive, "email",
       {"A clear confirmation e-mail came at once, thank you.",
        "The e-mail had exactly the right details."}},
  };
  return *banks;
}

}  // namespace

const std::vector<ThemeForms>& Themes() {
  // Each sentence has the lemma in another surface form: cases, plurals,
  // participles, compounds (fi); definite and plural forms, compounds (sv).
  static const auto* themes = new std::vector<ThemeForms>{
      {"fi", "toimitus", "toimitus",
       {"Toimitus myöhästyi taas usealla päivällä.",
        "Toimituksen myöhästyminen sotki koko viikon suunnitelmat.",
        "Myöhästynyt toimitus, eikä siitä ilmoitettu etukäteen.",
        "Toimitukset myöhästyvät aina, tämä ei ole ensimmäinen kerta.",
        "Toimitusaika venyi lähes kuukauteen ilman selitystä.",
        "Odotin toimitusta turhaan koko päivän.",
        "Toimituksissa on ollut jatkuvasti viivettä."}},
      {"fi", "lasku", "lasku",
       {"Lasku oli väärin jo toista kertaa.",
        "Laskussa oli virhe, jota ei korjattu.",
        "Virheellinen lasku ja vielä maksumuistutus perään.",
        "Laskuissa on jatkuvasti vääriä summia.",
        "Laskuvirhe vei minulta tunnin selvittelyä.",
        "Sain laskun palvelusta, jota en ole tilannut."}},
      {"sv", "leverans", "leverans",
       {"Leveransen försenades med nästan en vecka.",
        "Försenad leverans och ingen meddelade oss.",
        "Leveransförseningen förstörde hela helgen för oss.",
        "Leveranserna var försenade flera gånger i rad.",
        "Leveransförseningarna blir bara längre och längre.",
        "Jag väntade förgäves på leveransen hela dagen."}},
      {"sv", "faktura", "faktura",
       {"Fakturan var fel för andra gången.",
        "Felaktig faktura och ingen ville rätta den.",
        "Fakturorna stämmer aldrig med det vi kom överens om.",
        "Fakturafelet tog mig en timme att reda ut.",
        "Jag fick en faktura för något jag aldrig beställt."}},
      {"en", "deliveri", "delivery",
       {"The delivery was late again by several days.",
        "Late deliveries every single time, this is not the first.",
        "My delivery arrived a week late without notice.",
        "Delivery delays ruined our whole weekend.",
        "I waited all day for a delivery that never came."}},
  };
  return *themes;
}

const ThemeForms* FindTheme(std::string_view language, std::string_view name) {
  for (const ThemeForms& theme : Themes()) {
    if (theme.language == language && (theme.lemma == name || theme.word == name)) {
      return &theme;
    }
  }
  return nullptr;
}

const NeutralPhrase& NeutralPhraseOf(std::string_view language) {
  static const auto* phrases = new std::vector<NeutralPhrase>{
      {"fi", "Kävin kaupassa.", {"käydä", "kauppa"}},
      {"sv", "Jag var i butiken.", {"butik"}},
      {"en", "I visited the store.", {"visit", "store"}},
  };
  for (const NeutralPhrase& phrase : *phrases) {
    if (phrase.language == language) return phrase;
  }
  return phrases->back();  // "can't happen" for a language in kLanguages
}

std::vector<std::string_view> Sentences(std::string_view language, Sentiment sentiment,
                                        std::string_view channel) {
  std::vector<std::string_view> sentences;
  for (bool general : {false, true}) {
    if (!general && channel.empty()) continue;
    for (const Bank& bank : Banks()) {
      if (bank.language != language || bank.sentiment != sentiment) continue;
      if (general ? !bank.channel.empty() : bank.channel != channel) continue;
      sentences.insert(sentences.end(), bank.sentences.begin(), bank.sentences.end());
    }
  }
  return sentences;
}

std::string WriteComment(const CommentSpec& spec, Random& random) {
  std::string comment;
  if (spec.neutral_phrase) {
    comment.append(NeutralPhraseOf(spec.language).sentence);
    comment += ' ';
  }
  if (spec.theme != nullptr) {
    const std::vector<std::string_view>& sentences = spec.theme->sentences;
    comment.append(sentences[random.Index(sentences.size())]);
  } else {
    std::vector<std::string_view> sentences =
        Sentences(spec.language, spec.sentiment, spec.channel);
    comment.append(sentences[random.Index(sentences.size())]);
  }
  return comment;
}

}  // namespace polku::sim
