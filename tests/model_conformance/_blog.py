"""The schema most model tests use, and a helper to open a fresh client on it."""

from __future__ import annotations

from typing import Any

from conformance._support import db_name

from pyidb.model import Client, Schema

BLOG = """
// A blog: one-to-many, one-to-one, implicit many-to-many, enum, compound keys.
datasource db {
  provider = "sqlite"
  url      = "file:dev.db"
}

generator client {
  provider = "prisma-client-py"
}

enum Role {
  USER
  ADMIN
}

model User {
  id      Int      @id @default(autoincrement())
  email   String   @unique
  name    String?
  role    Role     @default(USER)
  active  Boolean  @default(true)
  score   Float    @default(0)
  posts   Post[]
  profile Profile?
}

model Profile {
  id     Int    @id @default(autoincrement())
  bio    String
  userId Int    @unique
  user   User   @relation(fields: [userId], references: [id], onDelete: Cascade)
}

model Post {
  id        Int      @id @default(autoincrement())
  title     String
  views     Int      @default(0)
  published Boolean  @default(false)
  tags      String[]
  meta      Json?
  authorId  Int?
  author    User?    @relation(fields: [authorId], references: [id], onDelete: SetNull)
  categories Category[]
  createdAt DateTime @default(now())
  updatedAt DateTime @updatedAt
  @@index([published, views])
  @@index([title])
  @@index([tags])
  @@history
}

model Category {
  name  String @id
  posts Post[]
}

model Membership {
  userId Int
  group  String
  rank   Int
  @@id([userId, group])
  @@unique([group, rank], name: "groupRank")
}
"""


def blog_schema() -> Schema:
    return Schema.from_prisma(BLOG)


async def open_blog(factory: Any, name: str | None = None, plugins: Any = ()) -> Client:
    return await Client.open(name or db_name("blog"), blog_schema(), factory=factory,
                             plugins=plugins)
