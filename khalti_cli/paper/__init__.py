"""Paper: what khalti draws for printing (receipts; the drawing helpers fee slips share)."""
