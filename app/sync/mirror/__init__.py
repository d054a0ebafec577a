"""Reading a school from Wonde into its MIS mirror."""
