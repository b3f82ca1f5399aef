"""The default universe: the NIFTY 50 constituents a fresh install loads by itself (migration 0002).

As of 2025-11-30, to the best of our knowledge:
- the September 2025 reconstitution (effective 2025-09-30) added INDIGO and MAXHEALTH and removed
  HEROMOTOCO and INDUSINDBK;
- after the Tata Motors demerger (October 2025) the listed TATAMOTORS continues as TMPV
  (Tata Motors Passenger Vehicles).
Refresh it with `manage.py load_universe` when NSE changes the index; the migration only inserts
symbols that are missing and never touches existing rows.
"""

NIFTY50_AS_OF = "2025-11-30"

# (NSE symbol, company name). Yahoo symbols are the NSE symbol + ".NS".
NIFTY50: tuple[tuple[str, str], ...] = (
    ("ADANIENT", "Adani Enterprises Limited"),
    ("ADANIPORTS", "Adani Ports and Special Economic Zone Limited"),
    ("APOLLOHOSP", "Apollo Hospitals Enterprise Limited"),
    ("ASIANPAINT", "Asian Paints Limited"),
    ("AXISBANK", "Axis Bank Limited"),
    ("BAJAJ-AUTO", "Bajaj Auto Limited"),
    ("BAJAJFINSV", "Bajaj Finserv Limited"),
    ("BAJFINANCE", "Bajaj Finance Limited"),
    ("BEL", "Bharat Electronics Limited"),
    ("BHARTIARTL", "Bharti Airtel Limited"),
    ("CIPLA", "Cipla Limited"),
    ("COALINDIA", "Coal India Limited"),
    ("DRREDDY", "Dr. Reddy's Laboratories Limited"),
    ("EICHERMOT", "Eicher Motors Limited"),
    ("ETERNAL", "Eternal Limited"),
    ("GRASIM", "Grasim Industries Limited"),
    ("HCLTECH", "HCL Technologies Limited"),
    ("HDFCBANK", "HDFC Bank Limited"),
    ("HDFCLIFE", "HDFC Life Insurance Company Limited"),
    ("HINDALCO", "Hindalco Industries Limited"),
    ("HINDUNILVR", "Hindustan Unilever Limited"),
    ("ICICIBANK", "ICICI Bank Limited"),
    ("INDIGO", "InterGlobe Aviation Limited"),
    ("INFY", "Infosys Limited"),
    ("ITC", "ITC Limited"),
    ("JIOFIN", "Jio Financial Services Limited"),
    ("JSWSTEEL", "JSW Steel Limited"),
    ("KOTAKBANK", "Kotak Mahindra Bank Limited"),
    ("LT", "Larsen & Toubro Limited"),
    ("M&M", "Mahindra & Mahindra Limited"),
    ("MARUTI", "Maruti Suzuki India Limited"),
    ("MAXHEALTH", "Max Healthcare Institute Limited"),
    ("NESTLEIND", "Nestle India Limited"),
    ("NTPC", "NTPC Limited"),
    ("ONGC", "Oil & Natural Gas Corporation Limited"),
    ("POWERGRID", "Power Grid Corporation of India Limited"),
    ("RELIANCE", "Reliance Industries Limited"),
    ("SBILIFE", "SBI Life Insurance Company Limited"),
    ("SBIN", "State Bank of India"),
    ("SHRIRAMFIN", "Shriram Finance Limited"),
    ("SUNPHARMA", "Sun Pharmaceutical Industries Limited"),
    ("TATACONSUM", "Tata Consumer Products Limited"),
    ("TATASTEEL", "Tata Steel Limited"),
    ("TCS", "Tata Consultancy Services Limited"),
    ("TECHM", "Tech Mahindra Limited"),
    ("TITAN", "Titan Company Limited"),
    ("TMPV", "Tata Motors Passenger Vehicles Limited"),
    ("TRENT", "Trent Limited"),
    ("ULTRACEMCO", "UltraTech Cement Limited"),
    ("WIPRO", "Wipro Limited"),
)
