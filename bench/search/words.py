# NAME
#	words.py - the fixed word and name lists of the search benchmark's mail
# DESCRIPTION
#	Real common words of English, French and German (most frequent
#	first: their order is their Zipf rank), first and last names (some
#	accented), Chinese and Japanese sentences, and the syllables that
#	gen_mail.py builds its pseudo-words and domains from. Data only;
#	changing a list changes every generated message (and so the figures).

EN = """the of and to a in is you that it for on was with be as have are at this
not but they by we from or an will all your can there if has more one about
would our their which please when what so up out were been its who any also
time new some them could these two other may only into than do how see then
now first people like well should make over just after know back year work
meeting report project team review budget contract client customer order
invoice payment delivery schedule draft version attached document question
answer update change issue request support service account office week month
today tomorrow monday tuesday wednesday thursday friday morning afternoon
call phone email thanks regards best kind note information details price
offer quote proposal agreement terms approval decision plan status result
number date deadline date last next before after because however therefore
again already still soon later here below above following send sent receive
received check confirm discuss share provide prepare finish start open close
need want think hope sure good great fine important urgent possible available
sales market product quality shipment warehouse supplier purchase finance
audit legal compliance policy risk data system server access password login
training holiday travel hotel flight visit conference presentation slides
minutes agenda summary figures quarter annual target growth cost revenue""".split()

FR = """le la les de des du un une et est en que qui dans pour pas sur au avec
ce il elle nous vous ils sont être avoir fait plus par mais ou donc où comme
tout bien très aussi votre notre merci bonjour cordialement réunion projet
équipe rapport budget contrat client commande facture paiement livraison
semaine mois aujourd'hui demain lundi mardi mercredi jeudi vendredi matin
soir document question réponse demande service compte bureau prix offre
devis accord décision résultat date prochaine dernière déjà encore après
avant parce ainsi été année première nouveau nouvelle français société
entreprise marché produit qualité fournisseur achat finance juridique
conformité politique risque données système accès formation congés voyage
hôtel visite conférence présentation diapositives ordre jour résumé chiffres
trimestre croissance coût chiffre affaires élève théâtre fenêtre château""".split()

DE = """der die das und ist nicht zu den von mit sich des auf für im dem ein
eine als auch es an werden aus er hat dass sie nach wird bei einer um am
sind noch wie einem über einen so zum war haben nur oder aber vor zur bis
mehr durch man sehr Ihnen vielen Dank freundlichen Grüßen Besprechung
Projekt Bericht Vertrag Kunde Bestellung Rechnung Zahlung Lieferung Woche
Monat heute morgen Montag Dienstag Mittwoch Donnerstag Freitag Unterlagen
Frage Antwort Anfrage Angebot Preis Termin Entscheidung Ergebnis Datum
nächste letzte bereits schon später hier unten oben folgende senden
erhalten prüfen bestätigen Straße Größe Grüße Müller Bürger Qualität
Lieferant Einkauf Finanzen Prüfung Richtlinie Risiko Daten Zugang
Schulung Urlaub Reise Besuch Konferenz Präsentation Tagesordnung
Zusammenfassung Zahlen Quartal Wachstum Kosten Umsatz Geschäftsführung""".split()

ZH = """我们下周一上午十点在会议室开会。 请在星期五之前把报告发给我。
合同已经签好了，附件是扫描件。 这个项目的预算需要重新审核。
客户要求我们尽快确认发货日期。 谢谢你的帮助，祝你周末愉快。
财务部门正在处理这张发票。 请查看附件中的最新版本。
明天的培训改到下午三点。 我们需要讨论第三季度的销售目标。
供应商已经确认了新的价格。 审计报告将在月底完成。""".split()

JA = """来週の会議の資料を送ります。 ご確認のほどよろしくお願いいたします。
請求書を添付いたしましたのでご査収ください。 納期について至急ご連絡ください。
本日の打ち合わせありがとうございました。 契約書の修正版をお送りします。
東京の事務所に明日伺います。 予算の見直しが必要です。
新しいプロジェクトの計画を共有します。 監査の結果は来月報告します。""".split()

FIRST = """James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth
David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen
Christopher Nancy Daniel Lisa Matthew Betty Anthony Margaret Mark Sandra
Paul Ashley Steven Emily Andrew Donna Kenneth Michelle Joshua Carol Kevin
Amanda Brian Melissa George Deborah Timothy Stephanie Jean Marie Pierre
Sophie Nicolas Camille François Hélène Céline Amélie Jérôme Benoît Noël
Zoë Chloé Loïc Gaëlle Renée André Léa Inès Théo Maël Hans Anna Jürgen
Günter Jörg Björn Sören Käthe Lena Lukas Felix Ulrike Bärbel Heinz Uwe
José María Álvaro Lucía Sofía Martín Jesús Ángel Íñigo Raúl Sergio Elena
Giulia Marco Luca Francesca Niccolò Lars Ingrid Åsa Søren Øyvind Wei Hiroshi
Yuki Li Chen Mei Aiko Kenji Priya Arjun Fatima Omar Ahmed Olga Dmitri Ivan
Agnieszka Łukasz Zoltán Gergő Tomáš Jiří Dušan Ana Emma Noah Liam Olivia""".split()

LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Taylor Moore Jackson Martin Lee
Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright
Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter
Dubois Lefèvre Moreau Laurent Simon Michel Leroy Roux Fournier Girard
Bonnet Dupont Lambert Fontaine Rousseau Vincent Müller Schmidt Schneider
Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter
Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann
Lange Werner Krause Köhler Jäger Groß Weiß Álvarez Fernández Sánchez Pérez
Gómez Martín Jiménez Ruiz Díaz Muñoz Romero Núñez Rossi Russo Ferrari
Esposito Bianchi Romano Colombo Ricci Bruno Gallo Conti Andersson Johansson
Karlsson Nilsson Jørgensen Østergaard Wang Zhang Liu Chen Yang Tanaka Suzuki
Takahashi Watanabe Sato Nowak Kowalski Wiśniewski Novák Dvořák Horváth
Nagy Kovács Popescu Ivanov Petrov Yılmaz Öztürk Şahin Kaya Patel Singh""".split()

SYLLABLES = """ba be bi bo da de di do fa fe fi fo ga ge gi go ka ke ki ko la le li lo
ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va
ve vi vo za ze zi zo bra bre bri bro dra dre dri dro tra tre tri tro kra
kre kri kro pla ple pli plo sta ste sti sto ar er ir or an en in on al el
il ol as es is os at et it ot ban ben bin bon dan den din don ran ren rin
ron tan ten tin ton lan len lin lon man men min mon nar ner nir nor sar ser
sir sor tal tel til tol""".split()

TLDS = """com com com com de de fr fr org net ch at co.uk io es it nl be se jp cn
eu ca pl cz""".split()

DOMAIN_WORDS = """group systems consulting partners bank invest logistics energy
media health pharma tech software solutions industries trading capital
services legal design motors foods insurance labs network retail""".split()

RE_PREFIX = {"en": "Re: ", "fr": "RE : ", "de": "AW: ", "zh": "回复：", "ja": "Re: "}
FWD_PREFIX = {"en": "Fwd: ", "fr": "TR : ", "de": "WG: ", "zh": "转发：", "ja": "Fwd: "}
GREETING = {"en": "Hello {n},", "fr": "Bonjour {n},", "de": "Hallo {n},",
            "zh": "{n}，你好：", "ja": "{n}様"}
CLOSING = {"en": "Best regards,", "fr": "Cordialement,", "de": "Mit freundlichen Grüßen",
           "zh": "此致", "ja": "よろしくお願いいたします。"}
