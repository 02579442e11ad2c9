package main

// point is a WGS 84 location the areasAt query asks about.
type point struct {
	Name     string
	Lat, Lon float64
}

// points are real places across the United Kingdom, visited round-robin:
// hospitals and city centres in England (a few in London), Wales, Scotland and
// Northern Ireland, plus three at sea, where areasAt answers an empty list.
var points = []point{
	// England
	{"Addenbrooke's Hospital, Cambridge", 52.1751, 0.1408},
	{"Manchester Royal Infirmary", 53.4627, -2.2254},
	{"Leeds General Infirmary", 53.8020, -1.5520},
	{"Queen Elizabeth Hospital Birmingham", 52.4531, -1.9426},
	{"Royal Victoria Infirmary, Newcastle", 54.9800, -1.6200},
	{"Bristol Royal Infirmary", 51.4585, -2.5966},
	{"Southampton General Hospital", 50.9330, -1.4340},
	{"Royal Cornwall Hospital, Truro", 50.2660, -5.0940},
	{"Derriford Hospital, Plymouth", 50.4163, -4.1136},
	{"Norfolk and Norwich University Hospital", 52.6178, 1.2195},
	{"John Radcliffe Hospital, Oxford", 51.7640, -1.2194},
	{"Royal Liverpool University Hospital", 53.4100, -2.9660},
	{"Northern General Hospital, Sheffield", 53.4090, -1.4590},
	{"Queen's Medical Centre, Nottingham", 52.9436, -1.1860},
	{"Leicester Royal Infirmary", 52.6268, -1.1360},
	{"Hull Royal Infirmary", 53.7446, -0.3570},
	{"York city centre", 53.9590, -1.0815},
	{"Cumberland Infirmary, Carlisle", 54.8950, -2.9560},
	{"Royal Sussex County Hospital, Brighton", 50.8190, -0.1180},
	{"Kent and Canterbury Hospital", 51.2660, 1.0870},
	{"Ipswich town centre", 52.0567, 1.1482},
	{"Royal Devon and Exeter Hospital", 50.7170, -3.5060},
	{"Lincoln County Hospital", 53.2340, -0.5200},
	{"Royal Preston Hospital", 53.7900, -2.7020},
	{"Milton Keynes University Hospital", 52.0260, -0.7360},
	// London
	{"St Thomas' Hospital, Lambeth", 51.4988, -0.1180},
	{"Royal London Hospital, Whitechapel", 51.5186, -0.0596},
	{"St Mary's Hospital, Paddington", 51.5171, -0.1740},
	{"King's College Hospital, Denmark Hill", 51.4680, -0.0940},
	{"Trafalgar Square", 51.5080, -0.1281},
	{"Northwick Park Hospital, Harrow", 51.5760, -0.3210},
	{"Queen's Hospital, Romford", 51.5690, 0.1790},
	// Wales
	{"University Hospital of Wales, Cardiff", 51.5070, -3.1900},
	{"Morriston Hospital, Swansea", 51.6830, -3.9330},
	{"Ysbyty Gwynedd, Bangor", 53.2090, -4.1600},
	{"Wrexham Maelor Hospital", 53.0390, -3.0140},
	{"Bronglais Hospital, Aberystwyth", 52.4160, -4.0710},
	{"Withybush Hospital, Haverfordwest", 51.8130, -4.9660},
	{"Newport city centre", 51.5842, -2.9977},
	{"Llandrindod Wells", 52.2410, -3.3790},
	// Scotland
	{"Royal Infirmary of Edinburgh", 55.9220, -3.1360},
	{"Queen Elizabeth University Hospital, Glasgow", 55.8620, -4.3400},
	{"Aberdeen Royal Infirmary", 57.1540, -2.1350},
	{"Raigmore Hospital, Inverness", 57.4740, -4.1900},
	{"Ninewells Hospital, Dundee", 56.4650, -3.0380},
	{"Dumfries town centre", 55.0700, -3.6050},
	{"Gilbert Bain Hospital, Lerwick", 60.1530, -1.1490},
	// Northern Ireland
	{"Royal Victoria Hospital, Belfast", 54.5950, -5.9540},
	{"Altnagelvin Area Hospital, Derry", 54.9950, -7.2880},
	{"Craigavon Area Hospital", 54.4430, -6.4070},
	{"South West Acute Hospital, Enniskillen", 54.3640, -7.6330},
	// At sea
	{"North Sea", 55.0000, 3.0000},
	{"Irish Sea", 53.8000, -5.0000},
	{"English Channel", 50.2000, -1.5000},
}
