"""Name tables for generated schools: the names a UK school's MIS really holds.

The sync code must cope with accents (Siobhán, Łukasz, Zoë), apostrophes (O'Brien), spaces
(Ó Súilleabháin), hyphens and names from many origins, so the generator draws from all of them.
Families are drawn by origin, so surnames and forenames mostly agree, as they do in real schools.
"""

from __future__ import annotations

from typing import NamedTuple


class Origin(NamedTuple):
    """Names of one origin, and how often a family of that origin appears (weights sum to about 100)."""

    weight: int
    girls: tuple[str, ...]
    boys: tuple[str, ...]
    surnames: tuple[str, ...]


# fmt: off
ENGLISH = Origin(
    weight=52,
    girls=(
        "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia", "Grace", "Willow",
        "Freya", "Florence", "Emily", "Ella", "Poppy", "Evie", "Elsie", "Charlotte", "Evelyn", "Sienna", "Daisy",
        "Phoebe", "Sophie", "Harper", "Matilda", "Alice", "Isabelle", "Ruby", "Millie", "Esme", "Maya", "Emilia",
        "Ellie", "Jessica", "Hannah", "Chloe", "Lucy", "Holly", "Megan", "Bethany", "Abigail", "Scarlett", "Imogen",
        "Harriet", "Eleanor", "Violet", "Penelope", "Mabel", "Edith", "Martha", "Beatrice", "Clara", "Heidi",
        "Lottie", "Zara", "Summer", "Eliza", "Jasmine", "Katie", "Amber", "Georgia", "Zoë", "Chloë", "Renée",
        "Amélie", "Rebecca", "Elizabeth", "Margaret", "Katherine", "Victoria", "Josephine", "Gabriella",
    ),
    boys=(
        "Oliver", "George", "Noah", "Arthur", "Leo", "Oscar", "Harry", "Archie", "Jack", "Henry", "Charlie",
        "Freddie", "Theodore", "Thomas", "Alfie", "Jacob", "Theo", "William", "Isaac", "Joshua", "James", "Lucas",
        "Alexander", "Edward", "Finley", "Max", "Samuel", "Joseph", "Benjamin", "Daniel", "Harrison", "Sebastian",
        "Louie", "Jude", "Albert", "Reuben", "Toby", "Ethan", "Mason", "Logan", "Elliot", "Frederick", "Hugo",
        "Ronnie", "Tommy", "Teddy", "Stanley", "Jenson", "Rory", "Ryan", "Luke", "Nathan", "Zachary", "Harvey",
        "Bobby", "Jesse", "Louis", "Matthew", "Adam", "Christopher", "Nicholas", "Jonathan", "Alfred", "Archibald",
    ),
    surnames=(
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
        "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
        "Lewis", "Harris", "Clarke", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris",
        "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Allen", "James", "Scott", "Phillips", "Watson",
        "Davis", "Parker", "Price", "Bennett", "Young", "Mitchell", "Cook", "Carter", "Richardson", "Bailey",
        "Collins", "Bell", "Shaw", "Miller", "Cox", "Richards", "Marshall", "Anderson", "Simpson", "Ellis", "Adams",
        "Wilkinson", "Foster", "Chapman", "Mason", "Webb", "Rogers", "Gray", "Hunt", "Palmer", "Holmes", "Mills",
        "Barnes", "Knight", "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens", "Dixon", "Fletcher",
        "Pearson", "Hudson", "Atkinson", "Hart", "Fox", "Lawrence", "Ball", "Payne", "Dawson", "Gibson", "Hayes",
        "Holland", "Stone", "Sutton", "Whitehouse", "Ashworth", "Pickering", "Fairclough", "Blackwood", "Armitage",
    ),
)

WELSH = Origin(
    weight=5,
    girls=(
        "Cerys", "Seren", "Ffion", "Nia", "Carys", "Eleri", "Lowri", "Angharad", "Gwen", "Rhiannon", "Mali", "Efa",
        "Elin", "Catrin", "Siân", "Non",
    ),
    boys=(
        "Dylan", "Rhys", "Owain", "Osian", "Gethin", "Iwan", "Dafydd", "Emrys", "Ieuan", "Tomos", "Cai", "Macsen",
        "Llŷr", "Gruffydd", "Aled",
    ),
    surnames=(
        "Llewellyn", "Pritchard", "Bowen", "Powell", "Vaughan", "Rees", "Pugh", "Howells", "Prosser", "Gwilliam",
        "Jenkins", "Morgan", "Parry", "Meredith", "Griffiths",
    ),
)

SCOTTISH = Origin(
    weight=4,
    girls=("Eilidh", "Isla", "Mhairi", "Kirsty", "Ailsa", "Morven", "Catriona", "Fiona", "Skye", "Iona", "Kenzie"),
    boys=(
        "Callum", "Hamish", "Angus", "Ruaridh", "Lachlan", "Fraser", "Finlay", "Euan", "Struan", "Alasdair", "Murdo",
        "Ewan",
    ),
    surnames=(
        "MacDonald", "Campbell", "Stewart", "Robertson", "Fraser", "McKenzie", "Murray", "Ross", "Reid", "Paterson",
        "Ferguson", "McLeod", "Grant", "Sinclair", "MacLean", "Docherty",
    ),
)

IRISH = Origin(
    weight=4,
    girls=(
        "Siobhán", "Niamh", "Aoife", "Saoirse", "Róisín", "Caoimhe", "Orla", "Clodagh", "Aisling", "Síofra", "Éabha",
        "Ciara", "Sinéad", "Gráinne",
    ),
    boys=(
        "Oisín", "Cian", "Ciarán", "Darragh", "Seán", "Eoin", "Tadhg", "Pádraig", "Rónán", "Cillian", "Fionn",
        "Conor", "Diarmuid",
    ),
    surnames=(
        "Murphy", "O'Brien", "O'Connor", "Byrne", "Ryan", "O'Sullivan", "Walsh", "McCarthy", "Doyle", "Kennedy",
        "Ó Súilleabháin", "Gallagher", "Quinn", "Nolan", "Brennan", "Flanagan", "Kelly",
    ),
)

SOUTH_ASIAN = Origin(
    weight=13,
    girls=(
        "Priya", "Ananya", "Saanvi", "Aaradhya", "Diya", "Anika", "Amara", "Ishani", "Simran", "Harleen", "Jasleen",
        "Navneet", "Hafsa", "Aleena", "Inaya", "Anaya", "Riya", "Kavya", "Mehreen", "Sana", "Ayesha", "Nusrat",
        "Tahmina", "Sumaiya",
    ),
    boys=(
        "Arjun", "Rohan", "Aarav", "Vihaan", "Dev", "Krish", "Rahul", "Harjot", "Gurpreet", "Jaskaran", "Ayaan",
        "Zayan", "Rayyan", "Hamza", "Usman", "Bilal", "Faisal", "Imran", "Arham", "Shayan", "Tanvir", "Rafiq",
        "Sahil", "Ishaan",
    ),
    surnames=(
        "Patel", "Khan", "Ahmed", "Ali", "Hussain", "Begum", "Shah", "Singh", "Kaur", "Sharma", "Chowdhury",
        "Rahman", "Islam", "Miah", "Uddin", "Akhtar", "Iqbal", "Mahmood", "Gupta", "Kumar", "Mistry", "Parmar",
        "Sandhu", "Gill", "Dhillon", "Siddiqui", "Hossain", "Chaudhry", "Rashid", "Nawaz", "Malik", "Javed",
    ),
)

POLISH = Origin(
    weight=5,
    girls=(
        "Zofia", "Zuzanna", "Hanna", "Julia", "Maja", "Wiktoria", "Małgorzata", "Agnieszka", "Alicja", "Natalia",
        "Oliwia", "Łucja", "Weronika", "Katarzyna", "Aleksandra",
    ),
    boys=(
        "Łukasz", "Jakub", "Kacper", "Szymon", "Mateusz", "Wojciech", "Michał", "Piotr", "Bartosz", "Paweł",
        "Antoni", "Filip", "Tomasz", "Aleksander",
    ),
    surnames=(
        "Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński",
        "Woźniak", "Dąbrowski", "Kozłowski", "Mazur", "Krawczyk", "Kaczmarek", "Grabowski",
    ),
)

EAST_EUROPEAN = Origin(
    weight=3,
    girls=("Ioana", "Andreea", "Bianca", "Gabija", "Emilija", "Ieva", "Elena", "Daria"),
    boys=("Andrei", "Ștefan", "Matei", "Lukas", "Jonas", "Dovydas", "Mihai", "Darius"),
    surnames=(
        "Popescu", "Ionescu", "Popa", "Stan", "Dumitru", "Kazlauskas", "Petrauskas", "Jankauskas", "Rusu", "Ivanov",
    ),
)

WEST_AFRICAN = Origin(
    weight=5,
    girls=(
        "Adaeze", "Chiamaka", "Ngozi", "Temitope", "Folake", "Ifeoluwa", "Adjoa", "Ama", "Efua", "Abena",
        "Chidinma", "Nneka", "Yetunde", "Damilola",
    ),
    boys=(
        "Chinedu", "Emeka", "Oluwaseun", "Oluwatobi", "Kwame", "Kofi", "Kwabena", "Femi", "Tunde", "Ayodele",
        "Obinna", "Chukwuemeka", "Ikenna", "Babajide", "Kelechi",
    ),
    surnames=(
        "Okafor", "Okonkwo", "Adeyemi", "Adebayo", "Oladipo", "Mensah", "Owusu", "Boateng", "Asante", "Osei",
        "Nwosu", "Eze", "Obi", "Bello", "Ogunleye", "Afolabi", "Babatunde", "Olawale", "Danso", "Appiah",
    ),
)

ARABIC = Origin(
    weight=5,
    girls=(
        "Fatima", "Maryam", "Aisha", "Zainab", "Layla", "Noor", "Amira", "Yasmin", "Hana", "Salma", "Huda", "Rania",
        "Safiya",
    ),
    boys=(
        "Muhammad", "Mohammed", "Ahmed", "Omar", "Ali", "Yusuf", "Ibrahim", "Hassan", "Hussain", "Khalid", "Tariq",
        "Zakariya", "Idris", "Yahya", "Mustafa",
    ),
    surnames=(
        "Hassan", "Ibrahim", "Mahmoud", "Abdullah", "Haddad", "Al-Sayed", "Saleh", "Nasser", "Youssef", "Mansour",
        "Al-Hashimi", "Farah", "Aziz", "Karim", "Said", "El-Amin",
    ),
)

OTHER = Origin(
    weight=4,
    girls=(
        "Mei", "Xinyi", "Elif", "Zeynep", "Beatriz", "Inês", "Giulia", "Chiara", "Lucía", "Sofía", "Hodan", "Ayan",
    ),
    boys=("Jun", "Hao", "Wei", "Emir", "Mehmet", "João", "Tiago", "Matteo", "Lorenzo", "Mateo", "Abdi", "Mahad"),
    surnames=(
        "Chen", "Wang", "Li", "Zhang", "Wong", "Yılmaz", "Demir", "Kaya", "Şahin", "Silva", "Santos", "Ferreira",
        "Costa", "Rossi", "Russo", "García", "Rodríguez", "Fernández", "Mohamed", "Abdi", "Warsame", "Osman",
    ),
)

ORIGINS: tuple[Origin, ...] = (
    ENGLISH, WELSH, SCOTTISH, IRISH, SOUTH_ASIAN, POLISH, EAST_EUROPEAN, WEST_AFRICAN, ARABIC, OTHER,
)

# Legal forename -> forename the child is known by. Nicknames, anglicised forms and spellings an MIS
# stores with or without accents: the sync must show the preferred name and keep the legal one.
PREFERRED_FORENAMES: dict[str, str] = {
    "Alexander": "Alex",
    "Margaret": "Maggie",
    "William": "Will",
    "Elizabeth": "Beth",
    "Katherine": "Kate",
    "Thomas": "Tom",
    "Joseph": "Joe",
    "Samuel": "Sam",
    "Benjamin": "Ben",
    "Matthew": "Matt",
    "Christopher": "Kit",
    "Nicholas": "Nico",
    "Jonathan": "Jonny",
    "Rebecca": "Becky",
    "Abigail": "Abi",
    "Isabella": "Bella",
    "Jessica": "Jess",
    "Victoria": "Tori",
    "Charlotte": "Lottie",
    "Florence": "Flo",
    "Frederick": "Freddie",
    "Edward": "Teddy",
    "Theodore": "Theo",
    "Alfred": "Alfie",
    "Oliver": "Ollie",
    "Archibald": "Archie",
    "Penelope": "Penny",
    "Matilda": "Tilly",
    "Josephine": "Josie",
    "Gabriella": "Gabby",
    "Zachary": "Zac",
    "Wojciech": "Wojtek",
    "Małgorzata": "Gosia",
    "Katarzyna": "Kasia",
    "Aleksandra": "Ola",
    "Aleksander": "Alex",
    "Oluwaseun": "Seun",
    "Oluwatobi": "Tobi",
    "Chukwuemeka": "Emeka",
    "Ifeoluwa": "Ife",
    "Mohammed": "Muhammad",
    "Zoë": "Zoe",
    "Chloë": "Chloe",
    "Amélie": "Amelie",
    "Seán": "Sean",
    "Siobhán": "Siobhan",
}

# Staff: grown-ups' forenames (families of other origins use their origin's names) and their titles.
STAFF_WOMEN: tuple[str, ...] = (
    "Sarah", "Emma", "Claire", "Rachel", "Helen", "Laura", "Joanne", "Nicola", "Kelly", "Victoria", "Louise",
    "Amy", "Hannah", "Rebecca", "Catherine", "Gemma", "Jennifer", "Lisa", "Karen", "Julie", "Natalie", "Charlotte",
    "Zoë", "Siân", "Aoife", "Priya", "Fatima", "Agnieszka",
)
STAFF_MEN: tuple[str, ...] = (
    "David", "Paul", "Mark", "Andrew", "Richard", "James", "Michael", "Stephen", "Christopher", "Daniel", "Matthew",
    "Simon", "Peter", "Gareth", "Neil", "Jonathan", "Robert", "Thomas", "Ian", "Craig", "Adam", "Ben", "Rhys",
    "Seán", "Rajesh", "Tomasz",
)
STAFF_TITLES_WOMEN: tuple[tuple[str, int], ...] = (("Mrs", 50), ("Ms", 30), ("Miss", 17), ("Dr", 3))
STAFF_TITLES_MEN: tuple[tuple[str, int], ...] = (("Mr", 96), ("Dr", 4))

# Primary schools often name each form after a tree instead of "3B".
TREES: tuple[str, ...] = (
    "Oak", "Ash", "Elm", "Birch", "Beech", "Maple", "Willow", "Rowan", "Hazel", "Holly", "Cedar", "Pine", "Larch",
    "Alder", "Aspen", "Chestnut", "Sycamore", "Hawthorn", "Juniper", "Poplar", "Yew", "Lime", "Cherry", "Apple",
    "Plum", "Pear", "Walnut", "Hornbeam", "Spruce", "Fir", "Redwood", "Magnolia", "Elder", "Blackthorn", "Cypress",
    "Laurel", "Olive", "Mulberry", "Whitebeam", "Linden", "Sequoia", "Myrtle", "Acacia", "Almond",
)

# Parts of made-up school names and addresses.
PLACES: tuple[str, ...] = (
    "Ashford", "Bramley", "Hollingwood", "Kingsmead", "Oakfield", "Riverside", "Thornbury", "Westbrook", "Millbrook",
    "Fernhill", "Hartcliffe", "Brookside", "Langley", "Meadowbank", "Stanmore", "Greenacre", "Whitchurch",
    "Southfields", "Highcliffe", "Redland", "Elmwood", "Beaumont", "Castleton", "Fairfield", "Northgate",
)
SAINTS: tuple[str, ...] = ("St Mary's", "St John's", "St Peter's", "Holy Trinity", "St Anne's", "St Joseph's")
STREETS: tuple[str, ...] = (
    "School Lane", "Church Road", "Park Avenue", "Mill Street", "Station Road", "Victoria Road", "Green Lane",
    "Manor Way", "The Crescent", "Orchard Close", "High Street", "Queens Drive",
)
TOWNS: tuple[tuple[str, str], ...] = (
    ("Leeds", "LS"), ("Bristol", "BS"), ("Oxford", "OX"), ("Norwich", "NR"), ("Leicester", "LE"),
    ("Sheffield", "S"), ("Reading", "RG"), ("Exeter", "EX"), ("Preston", "PR"), ("Luton", "LU"),
    ("Cambridge", "CB"), ("Derby", "DE"), ("Swindon", "SN"), ("Bolton", "BL"), ("Coventry", "CV"),
)
# fmt: on
