"""The Langevin & SGLD lab's tabs (pages/langevin.py is the page): one module per tab and the parts they share."""
