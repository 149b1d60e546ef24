//! DFS referrals ([MS-DFSC]).
